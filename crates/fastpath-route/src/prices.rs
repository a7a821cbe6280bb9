//! Dated price tables with sources. Cloud estimates (S4, S5, T3-T6) read every price and the
//! fleet size from here, never from constants in the code, so `--prices seed` reproduces the
//! seed's arithmetic exactly and the shipped default stays current.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::RouteError;

/// An hourly price and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub usd_per_hour: f64,
    pub source: String,
}

/// The droplet a DigitalOcean fleet (T6) is made of, and how many of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetOffer {
    pub droplet: String,
    pub vcpus: u32,
    pub ram_gb: f64,
    pub usd_per_hour: f64,
    /// Fleet size (the seed's 15).
    pub droplets: u32,
    pub source: String,
}

/// A single large-memory droplet (T5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropletOffer {
    pub slug: String,
    pub vcpus: u32,
    pub ram_gb: f64,
    pub usd_per_hour: f64,
    pub source: String,
}

/// Every price the router uses, with the table's name and date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub name: String,
    /// Date of the table (ISO date) or `undated`.
    pub as_of: String,
    pub description: String,
    /// Lambda 8x H100 SXM5 instance (T3).
    pub lambda_8x_h100: Offer,
    /// AWS p5.48xlarge, 8x H100, per node (T4).
    pub aws_p5_48xlarge: Offer,
    pub do_fleet: FleetOffer,
    /// Large droplets for T5, any order; the cheapest with enough RAM is chosen.
    pub do_large_droplets: Vec<DropletOffer>,
}

const SEED_TOML: &str = include_str!("../prices/seed.toml");
const CURRENT_TOML: &str = include_str!("../prices/current.toml");

impl PriceTable {
    /// The seed's constants: $23.92/h Lambda, $98/h p5, 15 droplets at $0.17/h, m6 droplets.
    pub fn seed() -> PriceTable {
        Self::parse(SEED_TOML, "built-in seed table").expect("the built-in seed price table parses")
    }

    /// The shipped default: current prices from research/cloud_distributed.md.
    pub fn current() -> PriceTable {
        Self::parse(CURRENT_TOML, "built-in current table")
            .expect("the built-in current price table parses")
    }

    /// The TOML text of a built-in table, so users can start their own from it.
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        match name {
            "seed" => Some(SEED_TOML),
            "current" => Some(CURRENT_TOML),
            _ => None,
        }
    }

    /// `seed`, `current`, or a TOML/JSON file with the same fields as the built-in tables.
    pub fn from_arg(arg: &str) -> Result<PriceTable, RouteError> {
        match arg {
            "seed" => Ok(Self::seed()),
            "current" | "default" => Ok(Self::current()),
            path => Self::from_file(Path::new(path)),
        }
    }

    pub fn from_file(path: &Path) -> Result<PriceTable, RouteError> {
        let text = std::fs::read_to_string(path).map_err(|e| RouteError::Io {
            path: path.display().to_string(),
            message: format!(
                "cannot read price table ({e}); --prices takes seed, current or a TOML/JSON file"
            ),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML (or JSON when the text starts with `{`) and checks every value.
    pub fn parse(text: &str, origin: &str) -> Result<PriceTable, RouteError> {
        let table: PriceTable = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| RouteError::Syntax(format!("{origin}: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| {
                RouteError::Syntax(format!(
                    "{origin}: {}",
                    crate::workload::toml_error_line(text, &e)
                ))
            })?
        };
        table.validate(origin)?;
        Ok(table)
    }

    fn validate(&self, origin: &str) -> Result<(), RouteError> {
        let bad = |key: &str, what: &str| {
            Err(RouteError::invalid(format!("{origin}: {key}"), what.to_string()))
        };
        let price_ok = |x: f64| x.is_finite() && x > 0.0 && x < 1e6;
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty");
        }
        if self.as_of.trim().is_empty() {
            return bad("as_of", "must be a date (YYYY-MM-DD) or \"undated\"");
        }
        if !price_ok(self.lambda_8x_h100.usd_per_hour) {
            return bad("lambda_8x_h100.usd_per_hour", "must be a price > 0");
        }
        if !price_ok(self.aws_p5_48xlarge.usd_per_hour) {
            return bad("aws_p5_48xlarge.usd_per_hour", "must be a price > 0");
        }
        if !price_ok(self.do_fleet.usd_per_hour) {
            return bad("do_fleet.usd_per_hour", "must be a price > 0");
        }
        if !(1..=10_000).contains(&self.do_fleet.droplets) {
            return bad("do_fleet.droplets", "must be a whole number from 1 to 10000");
        }
        if !(self.do_fleet.ram_gb.is_finite() && self.do_fleet.ram_gb > 0.0) {
            return bad("do_fleet.ram_gb", "must be > 0");
        }
        if self.do_large_droplets.is_empty() {
            return bad("do_large_droplets", "needs at least one droplet (T5 picks from them)");
        }
        for (i, d) in self.do_large_droplets.iter().enumerate() {
            if !price_ok(d.usd_per_hour) {
                return bad(&format!("do_large_droplets[{i}].usd_per_hour"), "must be a price > 0");
            }
            if !(d.ram_gb.is_finite() && d.ram_gb > 0.0) {
                return bad(&format!("do_large_droplets[{i}].ram_gb"), "must be > 0");
            }
        }
        Ok(())
    }

    /// `seed (undated)` / `current (2026-11-09)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.as_of)
    }

    /// The cheapest large droplet with at least `ram_gb` of memory, or None when none is big
    /// enough.
    pub fn droplet_for(&self, ram_gb: f64) -> Option<&DropletOffer> {
        self.do_large_droplets
            .iter()
            .filter(|d| d.ram_gb >= ram_gb)
            .min_by(|a, b| a.usd_per_hour.total_cmp(&b.usd_per_hour))
    }

    /// The largest droplet (the fallback when nothing fits).
    pub fn largest_droplet(&self) -> &DropletOffer {
        self.do_large_droplets
            .iter()
            .max_by(|a, b| {
                a.ram_gb.total_cmp(&b.ram_gb).then(b.usd_per_hour.total_cmp(&a.usd_per_hour))
            })
            .expect("validated: at least one droplet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_table_reproduces_the_seed_constants() {
        let seed = PriceTable::seed();
        assert_eq!(seed.lambda_8x_h100.usd_per_hour, 23.92);
        assert_eq!(seed.aws_p5_48xlarge.usd_per_hour, 98.0);
        assert_eq!(seed.do_fleet.usd_per_hour, 0.17);
        assert_eq!(seed.do_fleet.droplets, 15);
        assert_eq!(seed.do_fleet.droplet, "s-8vcpu-16gb-amd");
        let slugs: Vec<(&str, f64, f64)> = seed
            .do_large_droplets
            .iter()
            .map(|d| (d.slug.as_str(), d.ram_gb, d.usd_per_hour))
            .collect();
        assert_eq!(slugs, vec![("m6-4vcpu-32gb", 32.0, 0.27), ("m6-16vcpu-128gb", 128.0, 1.07)]);
    }

    #[test]
    fn current_table_carries_the_researched_prices_and_a_date() {
        let current = PriceTable::current();
        assert_eq!(current.lambda_8x_h100.usd_per_hour, 31.92);
        assert_eq!(current.aws_p5_48xlarge.usd_per_hour, 55.04);
        assert_eq!(current.as_of, "2026-11-09");
        assert!(current.lambda_8x_h100.source.contains("skypilot-catalog"));
    }

    #[test]
    fn droplet_choice_is_the_cheapest_that_fits() {
        let current = PriceTable::current();
        assert_eq!(current.droplet_for(20.0).unwrap().slug, "m-4vcpu-32gb");
        assert_eq!(current.droplet_for(100.0).unwrap().slug, "m-16vcpu-128gb");
        assert!(current.droplet_for(200.0).is_none());
        assert_eq!(current.largest_droplet().ram_gb, 128.0);
    }

    #[test]
    fn bad_tables_are_rejected_with_the_key() {
        let text =
            PriceTable::builtin_text("seed").unwrap().replace("droplets = 15", "droplets = 0");
        let err = PriceTable::parse(&text, "mine.toml").unwrap_err().to_string();
        assert_eq!(err, "mine.toml: do_fleet.droplets: must be a whole number from 1 to 10000");

        let text = PriceTable::builtin_text("seed")
            .unwrap()
            .replace("as_of = \"undated\"", "as_of = \"undated\"\ncolour = 1");
        let err = PriceTable::parse(&text, "mine.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("mine.toml: line 6") && err.contains("unknown field `colour`"),
            "{err}"
        );
    }
}
