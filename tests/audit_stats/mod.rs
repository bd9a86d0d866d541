//! The classifier audit's statistics ([`gan_bias::stats::audit_statistics`]): held to
//! scikit-learn, Fairlearn and statsmodels on a seeded synthetic audit (`golden`), and its
//! intervals' coverage on simulated data whose truth is known (`calibration`).
//!
//! Modules of the one integration-test binary (`tests/tests.rs`).

mod calibration;
mod golden;
