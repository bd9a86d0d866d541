//! Exact quantiles of the standard normal and of Student's t, from `statrs`.
//!
//! Owns only the mapping of this crate's arguments onto `statrs` (and what is returned where
//! `statrs` would refuse or panic: NaN).

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The `p` quantile of the standard normal; NaN unless `0 <= p <= 1`.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    Normal::standard().inverse_cdf(p)
}

/// The `p` quantile of Student's t with `df` degrees of freedom (not necessarily whole); the
/// normal quantile when `df` is infinite; NaN unless `0 <= p <= 1` and `df > 0`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df.is_infinite() {
        return normal_quantile(p);
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantile_is_close_to_the_tables() {
        for (df, want) in [(1.0, 63.657), (2.0, 9.925), (5.0, 4.032), (10.0, 3.169), (30.0, 2.750), (1000.0, 2.581)] {
            let got = t_quantile(0.995, df);
            assert!((got - want).abs() / want < 2e-3, "t(0.995, {df}) = {got}, want {want}");
        }
        assert!((normal_quantile(0.995) - 2.5758).abs() < 1e-3);
        assert!((t_quantile(0.975, 10.0) - 2.228).abs() < 5e-3);
    }

    #[test]
    fn t_quantile_is_odd_about_one_half_and_exact_where_closed_forms_exist() {
        for df in [1.0, 2.0, 3.5, 40.0] {
            for p in [0.6, 0.9, 0.999] {
                let (a, b) = (t_quantile(p, df), t_quantile(1.0 - p, df));
                assert!((a + b).abs() <= 1e-9 * a.abs(), "t({p}, {df}) = {a}, t({}, {df}) = {b}", 1.0 - p);
            }
        }
        for p in [0.75, 0.9, 0.995] {
            // df = 1 is Cauchy, df = 2 has a closed form.
            let cauchy = (std::f64::consts::PI * (p - 0.5)).tan();
            let two = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            assert!((t_quantile(p, 1.0) - cauchy).abs() <= 1e-10 * cauchy, "t({p}, 1)");
            assert!((t_quantile(p, 2.0) - two).abs() <= 1e-10 * two, "t({p}, 2)");
        }
    }
}
