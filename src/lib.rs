//! gan-bias: audits a face generator for entangled attributes, on any GPU.
//!
//! Data flows one way, one module per stage:
//! [`weights`] (files -> named tensors) -> [`model`] (tensors -> fused stages) ->
//! [`probe`] (the notebook's probe as a program of ops, run by a [`backend`]) ->
//! [`stats`] (covariance -> top features, and the plots' statistics) -> [`report`] (tables, CSV, JSON).
//! Each op in [`ops`] keeps its WGSL (in `shaders/`), its dispatch and its CPU twin together.

pub mod backend;
pub mod bench;
pub mod features;
pub mod host;
pub mod import;
pub mod model;
pub mod ops;
pub mod pictures;
pub mod planted;
pub mod plots;
pub mod probe;
pub mod report;
pub mod rng;
pub mod stats;
pub mod weights;
