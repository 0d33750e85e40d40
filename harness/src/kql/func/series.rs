//! `series_decompose()`, as the series_decompose page documents it
//! (<https://learn.microsoft.com/kusto/query/series-decompose-function>): the seasonal component
//! is the median of the series points in the same phase of the given period (0: none), the
//! trend is extracted from the deseasonalized series (`avg`: its average, `linefit`: a linear
//! regression, `none`: none), baseline = seasonal + trend and residual = x - baseline. The last
//! *Test_points* points are left out of the learning (the medians, the average, the regression)
//! and get the learned components. Seasonality `-1`, the default, detects the period with
//! `series_periods_detect`, whose algorithm the documentation does not give: the evaluator
//! rejects it (`KQL0204`) before a row is read, and this function reports it as an error too.

use crate::kql::value::Value;
use std::sync::Arc;

/// The columns `series_decompose` returns, in order; an `extend` without names calls them
/// `series_decompose_<column>_<part>`.
pub const DECOMPOSE_PARTS: &[&str] = &["baseline", "seasonal", "trend", "residual"];

/// `series_decompose(Series [, Seasonality, Trend, Test_points, Seasonality_threshold])`: a
/// dynamic array of the four series of [`DECOMPOSE_PARTS`], or null when *Series* is not an
/// array.
pub fn series_decompose(a: &[Value]) -> Result<Value, String> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::Null);
    };
    let x = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.to_real().ok_or_else(|| {
                format!("series_decompose: element {i} of the series is not a number")
            })
        })
        .collect::<Result<Vec<f64>, String>>()?;
    let seasonality = match a.get(1) {
        None | Some(Value::Null) => -1,
        Some(v) => v
            .to_long()
            .ok_or("series_decompose: Seasonality must be an integer")?,
    };
    if seasonality == -1 {
        return Err(undetectable_seasonality());
    }
    if seasonality < 0 {
        return Err(format!(
            "series_decompose: Seasonality must be -1, 0 or a positive period, not {seasonality}"
        ));
    }
    let trend = match a.get(2) {
        None | Some(Value::Null) => "avg".to_string(),
        Some(v) => v.text().to_string(),
    };
    let test_points = match a.get(3) {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .to_long()
            .filter(|n| *n >= 0)
            .ok_or("series_decompose: Test_points must be a non-negative integer")?,
    };
    let n = x.len();
    let learn = n.saturating_sub(usize::try_from(test_points).unwrap_or(usize::MAX));
    if n > 0 && learn == 0 {
        return Err(format!(
            "series_decompose: Test_points ({test_points}) leaves none of the {n} points to learn from"
        ));
    }
    let seasonal = seasonal(&x, usize::try_from(seasonality).unwrap_or(0), learn)?;
    let deseasonal: Vec<f64> = x.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
    let trend = match trend.as_str() {
        "avg" => {
            let mean = deseasonal[..learn].iter().sum::<f64>() / learn.max(1) as f64;
            vec![if n == 0 { 0.0 } else { mean }; n]
        }
        "linefit" => line_fit(&deseasonal, learn),
        "none" => vec![0.0; n],
        other => {
            return Err(format!(
                "series_decompose: Trend must be 'avg', 'linefit' or 'none', not '{other}'"
            ));
        }
    };
    let baseline: Vec<f64> = seasonal.iter().zip(&trend).map(|(s, t)| s + t).collect();
    let residual: Vec<f64> = x.iter().zip(&baseline).map(|(v, b)| v - b).collect();
    let array = |v: Vec<f64>| Value::Array(Arc::new(v.into_iter().map(Value::Real).collect()));
    Ok(Value::Array(Arc::new(vec![
        array(baseline),
        array(seasonal),
        array(trend),
        array(residual),
    ])))
}

/// Why Seasonality `-1` is refused.
pub fn undetectable_seasonality() -> String {
    "series_decompose: Seasonality -1 (the default) detects the period with series_periods_detect, whose algorithm Microsoft's documentation does not give; pass the period in bins, or 0 for none".to_string()
}

/// The seasonal component for `period` (0: none): each point gets the median of the learning
/// points in its phase.
fn seasonal(x: &[f64], period: usize, learn: usize) -> Result<Vec<f64>, String> {
    if period == 0 || x.is_empty() {
        return Ok(vec![0.0; x.len()]);
    }
    if period > learn {
        return Err(format!(
            "series_decompose: the period ({period}) is longer than the {learn} points learned from"
        ));
    }
    let medians: Vec<f64> = (0..period)
        .map(|phase| {
            let mut same: Vec<f64> = x[..learn]
                .iter()
                .skip(phase)
                .step_by(period)
                .copied()
                .collect();
            median(&mut same)
        })
        .collect();
    Ok((0..x.len()).map(|i| medians[i % period]).collect())
}

/// The median (the mean of the two middle values for an even count).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The least-squares line through `(i, y[i])` for the first `learn` points, at every index.
fn line_fit(y: &[f64], learn: usize) -> Vec<f64> {
    let n = learn as f64;
    if learn == 0 {
        return vec![0.0; y.len()];
    }
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = y[..learn].iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y[..learn].iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    (0..y.len())
        .map(|i| mean_y + slope * (i as f64 - mean_x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(v: &Value) -> Vec<Vec<f64>> {
        let Value::Array(parts) = v else {
            panic!("an array")
        };
        parts
            .iter()
            .map(|p| match p {
                Value::Array(xs) => xs.iter().map(|x| x.to_real().unwrap()).collect(),
                _ => panic!("an array"),
            })
            .collect()
    }

    fn series(xs: &[f64]) -> Value {
        Value::Array(Arc::new(xs.iter().map(|x| Value::Real(*x)).collect()))
    }

    #[test]
    fn phase_medians_then_a_least_squares_line() {
        // x = 2i + 10 on odd i. Phase medians: 6 (0, 4, 8, 12) and 18 (12, 16, 20, 24); the
        // deseasonalized series -6, -6, -2, -2, 2, 2, 6, 6 has slope 80/42 about i = 3.5.
        let x: Vec<f64> = (0..8)
            .map(|i| 2.0 * f64::from(i) + if i % 2 == 1 { 10.0 } else { 0.0 })
            .collect();
        let out = series_decompose(&[series(&x), Value::Long(2), Value::str("linefit")]).unwrap();
        let [baseline, seasonal, trend, residual] = parts(&out).try_into().unwrap();
        assert_eq!(seasonal, vec![6.0, 18.0, 6.0, 18.0, 6.0, 18.0, 6.0, 18.0]);
        for (i, t) in trend.iter().enumerate() {
            assert!(
                (t - 80.0 / 42.0 * (i as f64 - 3.5)).abs() < 1e-9,
                "{trend:?}"
            );
        }
        for (i, b) in baseline.iter().enumerate() {
            assert!((b - (seasonal[i] + trend[i])).abs() < 1e-9);
            assert!((residual[i] - (x[i] - b)).abs() < 1e-9);
        }
    }

    #[test]
    fn no_seasonality_and_no_trend_is_a_zero_baseline() {
        let out = series_decompose(&[series(&[1.0, 5.0, 2.0]), Value::Long(0), Value::str("none")])
            .unwrap();
        let p = parts(&out);
        assert_eq!(p[0], vec![0.0; 3]);
        assert_eq!(p[3], vec![1.0, 5.0, 2.0]);
    }

    #[test]
    fn test_points_are_left_out_of_the_learning() {
        let out = series_decompose(&[
            series(&[1.0, 3.0, 100.0]),
            Value::Long(0),
            Value::str("avg"),
            Value::Long(1),
        ])
        .unwrap();
        assert_eq!(parts(&out)[2], vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn the_default_seasonality_and_bad_arguments_are_errors() {
        assert!(series_decompose(&[series(&[1.0, 2.0])]).is_err());
        assert!(series_decompose(&[series(&[1.0]), Value::Long(0), Value::str("cubic")]).is_err());
        assert!(series_decompose(&[series(&[1.0, 2.0]), Value::Long(3)]).is_err());
        assert_eq!(series_decompose(&[Value::Null]).unwrap(), Value::Null);
    }
}
