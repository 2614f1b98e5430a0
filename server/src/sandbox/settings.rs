//! `SANDBOX_*` settings: realistic defaults, dialable for tests and benchmarks.

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSettings {
    /// Requests per second per seller account.
    pub rate_limit: u32,
    pub burst: u32,
    /// Uniform latency range in milliseconds.
    pub latency_ms: (u64, u64),
    /// Share of requests that fail transiently: half answer 503, a quarter hang before
    /// they are acted on and a quarter after (the listing exists, the answer never comes).
    pub transient_error_rate: f64,
    pub seed: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            rate_limit: 5,
            burst: 5,
            latency_ms: (150, 600),
            transient_error_rate: 0.03,
            seed: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub message: String,
}

impl SandboxSettings {
    /// A quiet sandbox for tests: no latency, no failures, a generous limit.
    pub fn calm() -> Self {
        Self {
            rate_limit: 10_000,
            burst: 10_000,
            latency_ms: (0, 0),
            transient_error_rate: 0.0,
            seed: 1,
        }
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let number =
            |variable: &'static str, default: u64, max: u64| -> Result<u64, SettingsError> {
                match get(variable) {
                    None => Ok(default),
                    Some(raw) => raw
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1 && *n <= max)
                        .ok_or(SettingsError {
                            variable,
                            message: format!("“{raw}” is not a whole number from 1 to {max}"),
                        }),
                }
            };
        let rate_limit = number("SANDBOX_RATE_LIMIT", defaults.rate_limit as u64, 100_000)? as u32;
        let burst = number("SANDBOX_BURST", rate_limit as u64, 100_000)? as u32;
        let latency_ms = match get("SANDBOX_LATENCY_MS") {
            None => defaults.latency_ms,
            Some(raw) => {
                let parsed = match raw.split_once('-') {
                    Some((low, high)) => low
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .zip(high.trim().parse::<u64>().ok()),
                    None => raw.parse::<u64>().ok().map(|n| (n, n)),
                };
                parsed
                    .filter(|(low, high)| low <= high && *high <= 60_000)
                    .ok_or(SettingsError {
                        variable: "SANDBOX_LATENCY_MS",
                        message: format!("“{raw}” is not a range like 150-600 (milliseconds)"),
                    })?
            }
        };
        let transient_error_rate = match get("SANDBOX_TRANSIENT_ERROR_RATE") {
            None => defaults.transient_error_rate,
            Some(raw) => raw
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or(SettingsError {
                    variable: "SANDBOX_TRANSIENT_ERROR_RATE",
                    message: format!("“{raw}” is not a share from 0 to 1"),
                })?,
        };
        let seed = match get("SANDBOX_SEED") {
            None => defaults.seed,
            Some(raw) => raw.parse().map_err(|_| SettingsError {
                variable: "SANDBOX_SEED",
                message: format!("“{raw}” is not a number"),
            })?,
        };
        Ok(Self {
            rate_limit,
            burst,
            latency_ms,
            transient_error_rate,
            seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<SandboxSettings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SandboxSettings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_realistic_and_values_are_read() {
        assert_eq!(settings(&[]).unwrap(), SandboxSettings::default());
        let custom = settings(&[
            ("SANDBOX_RATE_LIMIT", "50"),
            ("SANDBOX_LATENCY_MS", "100-300"),
            ("SANDBOX_TRANSIENT_ERROR_RATE", "0"),
        ])
        .unwrap();
        assert_eq!(
            (
                custom.rate_limit,
                custom.burst,
                custom.latency_ms,
                custom.transient_error_rate
            ),
            (50, 50, (100, 300), 0.0)
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("SANDBOX_RATE_LIMIT", "0"),
            ("SANDBOX_LATENCY_MS", "600-150"),
            ("SANDBOX_TRANSIENT_ERROR_RATE", "2"),
            ("SANDBOX_SEED", "x"),
        ] {
            assert_eq!(settings(&[(name, value)]).unwrap_err().variable, name);
        }
    }
}
