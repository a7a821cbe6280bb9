//! [`Signal`]: one measured value, or the reason it could not be measured, plus where it came
//! from.
//!
//! Every reading in a [`HealthReport`](crate::HealthReport) is a `Signal`, so a consumer can
//! always tell "the machine is fine" apart from "we could not look". In JSON a signal is
//! `{"value": 79, "source": "sysctl kern.memorystatus_level"}` or
//! `{"unknown": "PSI is disabled (boot with psi=1)", "source": "/proc/pressure/memory"}`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A measured value or the reason it is unknown, with the source it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal<T> {
    reading: Result<T, String>,
    source: String,
}

impl<T> Signal<T> {
    /// A value read from `source` (a file path, a command line, an API name).
    pub fn known(value: T, source: impl Into<String>) -> Self {
        Self { reading: Ok(value), source: source.into() }
    }

    /// No value: `reason` says why (missing file, command failed, timed out, not supported).
    pub fn unknown(reason: impl Into<String>, source: impl Into<String>) -> Self {
        Self { reading: Err(reason.into()), source: source.into() }
    }

    /// Turns a parser result into a signal.
    pub fn from_result(result: Result<T, String>, source: impl Into<String>) -> Self {
        Self { reading: result, source: source.into() }
    }

    pub fn value(&self) -> Option<&T> {
        self.reading.as_ref().ok()
    }

    /// Why the value is unknown; `None` when it is known.
    pub fn unknown_reason(&self) -> Option<&str> {
        self.reading.as_ref().err().map(String::as_str)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_known(&self) -> bool {
        self.reading.is_ok()
    }

    /// The reading as a `Result` borrowing the value or the reason.
    pub fn reading(&self) -> Result<&T, &str> {
        self.reading.as_ref().map_err(String::as_str)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Signal<U> {
        Signal { reading: self.reading.map(f), source: self.source }
    }
}

impl<T: Copy> Signal<T> {
    /// The value by copy, for plain numbers and enums.
    pub fn get(&self) -> Option<T> {
        self.reading.as_ref().ok().copied()
    }
}

/// Default for a signal missing from a snapshot file: unknown, saying so.
pub(crate) fn not_recorded<T>() -> Signal<T> {
    Signal::unknown("not recorded in the snapshot", "snapshot")
}

#[derive(Serialize)]
struct SignalOut<'a, T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown: Option<&'a str>,
    source: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalIn<T> {
    value: Option<T>,
    unknown: Option<String>,
    #[serde(default)]
    source: String,
}

impl<T: Serialize> Serialize for Signal<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SignalOut {
            value: self.reading.as_ref().ok(),
            unknown: self.reading.as_ref().err().map(String::as_str),
            source: &self.source,
        }
        .serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Signal<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = SignalIn::<T>::deserialize(deserializer)?;
        let reading = match (raw.value, raw.unknown) {
            (Some(value), None) => Ok(value),
            (None, Some(reason)) => Err(reason),
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "a signal has either `value` or `unknown` (a reason), not both",
                ));
            }
            (None, None) => {
                return Err(D::Error::custom(
                    "a signal needs `value` or `unknown` (the reason it is not known)",
                ));
            }
        };
        Ok(Self { reading, source: raw.source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_round_trip_through_json() {
        let known = Signal::known(79.0_f64, "sysctl kern.memorystatus_level");
        let text = serde_json::to_string(&known).unwrap();
        assert_eq!(text, r#"{"value":79.0,"source":"sysctl kern.memorystatus_level"}"#);
        assert_eq!(serde_json::from_str::<Signal<f64>>(&text).unwrap(), known);

        let unknown: Signal<f64> = Signal::unknown("PSI disabled", "/proc/pressure/memory");
        let text = serde_json::to_string(&unknown).unwrap();
        assert_eq!(text, r#"{"unknown":"PSI disabled","source":"/proc/pressure/memory"}"#);
        let back: Signal<f64> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.unknown_reason(), Some("PSI disabled"));
        assert_eq!(back.value(), None);
    }

    #[test]
    fn rejects_both_or_neither_and_typos() {
        let both = serde_json::from_str::<Signal<f64>>(r#"{"value":1,"unknown":"x"}"#);
        assert!(both.unwrap_err().to_string().contains("not both"));
        let neither = serde_json::from_str::<Signal<f64>>(r#"{"source":"x"}"#);
        assert!(neither.unwrap_err().to_string().contains("needs `value`"));
        let typo = serde_json::from_str::<Signal<f64>>(r#"{"valeu":1}"#);
        assert!(typo.unwrap_err().to_string().contains("valeu"));
    }

    #[test]
    fn source_is_optional_in_hand_written_snapshots() {
        let signal: Signal<u32> = serde_json::from_str(r#"{"value":4}"#).unwrap();
        assert_eq!(signal.get(), Some(4));
        assert_eq!(signal.source(), "");
    }
}
