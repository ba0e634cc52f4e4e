//! The one table `scale` prints: each figure, its raw baseline (the database's own) where there
//! is one, their ratio, and the target with pass or FAIL; then where each
//! request's SQL time goes, piece by piece.

use super::cases::{Case, TARGET_P99_MS};
use super::http::{Latency, Load, Throughput};
use super::raw::{RawInsert, RawTimes};
use crate::common::Percentiles;

/// The target for ingest: at least this share of the raw insert rate.
pub const TARGET_INGEST_SHARE: f64 = 0.5;

/// A read request's figures.
pub struct Read<'a> {
    pub case: &'a Case,
    pub latency: Latency,
    pub throughput: Throughput,
    pub raw: RawTimes,
}

/// The target for ingest with two servers on one database (PostgreSQL).
pub const TARGET_TWO_SERVERS: f64 = 1.5;

/// The write figures.
pub struct Writes {
    /// The same rows inserted straight into the database, each way tried.
    pub raw: Vec<RawInsert>,
    pub ingest: Load,
    /// The same ingest with the runners split between two servers on one
    /// database (PostgreSQL only).
    pub ingest_two_servers: Option<Load>,
    pub batch_size: usize,
    pub runners: usize,
    pub status: Load,
    pub callback_workers: usize,
}

pub struct Figures<'a> {
    /// "SQLite" or "PostgreSQL": whose raw figures these are.
    pub database: &'static str,
    /// Empty when the reads were skipped.
    pub reads: Vec<Read<'a>>,
    pub concurrency: usize,
    /// `None` when the writes were skipped.
    pub writes: Option<Writes>,
    /// Lines of the server's log that report SQLITE_BUSY ("database is locked").
    pub busy: usize,
    /// Lines of the server's log at ERROR.
    pub log_errors: usize,
}

struct Row {
    figure: String,
    runboard: String,
    raw: String,
    ratio: String,
    target: String,
    passed: Option<bool>,
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "pass"
    } else {
        "FAIL"
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn p50_p99(sample: &Percentiles) -> String {
    format!("{} / {}", ms(sample.at(0.5)), ms(sample.at(0.99)))
}

/// `12,345` for a count or a rate.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl Figures<'_> {
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for read in &self.reads {
            rows.extend(self.read_rows(read));
        }
        if !self.reads.is_empty() {
            rows.push(self.read_errors_row());
        }
        if let Some(writes) = &self.writes {
            rows.extend(writes.ingest_rows(self.busy));
            rows.extend(writes.status_rows());
        }
        rows.push(Row {
            figure: "server log: SQLITE_BUSY (database is locked) / ERROR lines".into(),
            runboard: format!("{} / {}", self.busy, self.log_errors),
            raw: String::new(),
            ratio: String::new(),
            target: format!("0 busy: {}", verdict(self.busy == 0)),
            passed: Some(self.busy == 0),
        });
        rows
    }

    fn read_errors_row(&self) -> Row {
        let read_errors: usize = self
            .reads
            .iter()
            .map(|read| read.latency.errors + read.throughput.errors)
            .sum();
        Row {
            figure: "error responses, all reads".into(),
            runboard: read_errors.to_string(),
            raw: String::new(),
            ratio: String::new(),
            target: format!("0: {}", verdict(read_errors == 0)),
            passed: Some(read_errors == 0),
        }
    }

    fn read_rows(&self, read: &Read) -> Vec<Row> {
        let case = read.case;
        let p99 = read.latency.millis.at(0.99);
        let raw_p99 = read.raw.whole.at(0.99);
        let latency_target = case.p99_target.map(|target| {
            let passed = p99 <= target;
            (format!("p99 ≤ {target:.0} ms: {}", verdict(passed)), passed)
        });
        let rate = &read.throughput;
        let rate_target = case.rate_target.map(|target| {
            let passed = rate.per_second >= target;
            (
                format!("≥ {}/s: {}", thousands(target), verdict(passed)),
                passed,
            )
        });
        vec![
            Row {
                figure: format!("{}: p50 / p99 (ms), answer size", case.name),
                runboard: format!(
                    "{} ({:.1} KB)",
                    p50_p99(&read.latency.millis),
                    read.latency.bytes as f64 / 1024.0
                ),
                raw: p50_p99(&read.raw.whole),
                ratio: format!("{:.1}×", p99 / raw_p99),
                target: latency_target
                    .as_ref()
                    .map(|t| t.0.clone())
                    .unwrap_or_default(),
                passed: latency_target.map(|t| t.1),
            },
            Row {
                figure: format!("{}: req/s, {} at once", case.name, self.concurrency),
                runboard: format!(
                    "{} (server {:.2} cores, bench {:.2})",
                    thousands(rate.per_second),
                    rate.server_cores,
                    rate.bench_cores
                ),
                raw: format!("{} (1 core)", thousands(1000.0 / read.raw.whole.at(0.5))),
                ratio: String::new(),
                target: rate_target
                    .as_ref()
                    .map(|t| t.0.clone())
                    .unwrap_or_default(),
                passed: rate_target.map(|t| t.1),
            },
        ]
    }

    /// True when every figure with a target meets it.
    pub fn passed(&self) -> bool {
        self.rows().iter().all(|row| row.passed != Some(false))
    }

    pub fn print(&self) {
        let database = self.database;
        println!("| figure | Runboard (HTTP) | raw {database} | ratio | target |");
        println!("| --- | --- | --- | --- | --- |");
        for row in self.rows() {
            println!(
                "| {} | {} | {} | {} | {} |",
                row.figure, row.runboard, row.raw, row.ratio, row.target
            );
        }
        println!(
            "\nRuns list filters: GET /api/runs (page of 20 and total). Latency: one request at a \
             time; req/s: {} at once for a few seconds. raw {database}: the same request's SQL (the \
             server's query builders and binds) on one read-only connection, one statement after \
             the other; its req/s is 1000 / p50. ratio: Runboard p99 / raw p99, and for ingest \
             Runboard / raw events per second. List targets (p99 ≤ {TARGET_P99_MS:.0} ms) apply at \
             any depth via the cursor; the offset page is shown for comparison.",
            self.concurrency
        );
        if self.reads.is_empty() {
            println!("\nResult: {}", verdict(self.passed()));
            return;
        }
        println!("\nWhere the SQL time goes (raw {database}, ms):\n");
        println!("| request | statement | p50 | p99 |");
        println!("| --- | --- | --- | --- |");
        for read in &self.reads {
            for (piece, times) in &read.raw.pieces {
                println!(
                    "| {} | {} | {} | {} |",
                    read.case.name,
                    piece,
                    ms(times.at(0.5)),
                    ms(times.at(0.99))
                );
            }
        }
        println!("\nResult: {}", verdict(self.passed()));
    }
}

impl Writes {
    fn ingest_rows(&self, busy: usize) -> Vec<Row> {
        let ingest = &self.ingest;
        let rate = events_per_second(ingest, self.batch_size);
        let raw_rate = |raw: &RawInsert| raw.events as f64 / raw.elapsed.as_secs_f64();
        // The limit is the fastest way the database has of storing the same rows.
        let mut raws: Vec<&RawInsert> = self.raw.iter().collect();
        raws.sort_by(|a, b| raw_rate(b).total_cmp(&raw_rate(a)));
        let describe = |raw: &RawInsert| {
            format!(
                "{} ({}: {} events in {:.1} s)",
                thousands(raw_rate(raw)),
                raw.shape,
                thousands(raw.events as f64),
                raw.elapsed.as_secs_f64()
            )
        };
        let clean = ingest.errors == 0 && busy == 0;
        let mut rows = Vec::new();
        let figure = format!(
            "ingest: events/s, {} runners × {}-event batches",
            self.runners, self.batch_size
        );
        let runboard = load_figure(ingest, self.batch_size);
        match raws.first() {
            Some(limit) => {
                let share = rate / raw_rate(limit);
                let passed = share >= TARGET_INGEST_SHARE && clean;
                rows.push(Row {
                    figure,
                    runboard,
                    raw: describe(limit),
                    ratio: format!("{:.0}%", share * 100.0),
                    target: format!(
                        "≥ {:.0}% of raw, 0 errors, 0 busy: {}",
                        TARGET_INGEST_SHARE * 100.0,
                        verdict(passed)
                    ),
                    passed: Some(passed),
                });
            }
            None => rows.push(Row {
                figure,
                runboard,
                raw: String::new(),
                ratio: String::new(),
                target: String::new(),
                passed: None,
            }),
        }
        for other in raws.iter().skip(1) {
            rows.push(Row {
                figure: "ingest: the same rows raw, the other way".into(),
                runboard: String::new(),
                raw: describe(other),
                ratio: format!("{:.0}%", rate / raw_rate(other) * 100.0),
                target: String::new(),
                passed: None,
            });
        }
        rows.push(Row {
            figure: "ingest: batch round trip / raw transaction p50 / p99 (ms)".into(),
            runboard: p50_p99(&ingest.millis),
            raw: raws
                .first()
                .map(|limit| p50_p99(&limit.transaction))
                .unwrap_or_default(),
            ratio: String::new(),
            target: String::new(),
            passed: None,
        });
        if let Some(two) = &self.ingest_two_servers {
            let share = events_per_second(two, self.batch_size) / rate;
            let passed = share >= TARGET_TWO_SERVERS && two.errors == 0;
            rows.push(Row {
                figure: format!(
                    "ingest with two servers: events/s, the same runners split between them \
                     ({} error responses)",
                    two.errors
                ),
                runboard: load_figure(two, self.batch_size),
                raw: String::new(),
                ratio: format!("{share:.2}× one server"),
                target: format!("≥ {TARGET_TWO_SERVERS}× one server: {}", verdict(passed)),
                passed: Some(passed),
            });
        }
        rows.push(Row {
            figure: "ingest: error responses".into(),
            runboard: ingest.errors.to_string(),
            raw: String::new(),
            ratio: String::new(),
            target: format!("0: {}", verdict(ingest.errors == 0)),
            passed: Some(ingest.errors == 0),
        });
        rows
    }

    fn status_rows(&self) -> Vec<Row> {
        let status = &self.status;
        let rate = status.ok as f64 / status.elapsed.as_secs_f64();
        vec![
            Row {
                figure: format!(
                    "status callbacks (progress): req/s, {} at once",
                    self.callback_workers
                ),
                runboard: format!(
                    "{} ({} in {:.1} s, server {:.2} cores)",
                    thousands(rate),
                    status.ok,
                    status.elapsed.as_secs_f64(),
                    status.server_cores
                ),
                raw: String::new(),
                ratio: String::new(),
                target: String::new(),
                passed: None,
            },
            Row {
                figure: "status callbacks: p50 / p99 (ms), error responses".into(),
                runboard: format!("{}, {}", p50_p99(&status.millis), status.errors),
                raw: String::new(),
                ratio: String::new(),
                target: format!("0 errors: {}", verdict(status.errors == 0)),
                passed: Some(status.errors == 0),
            },
        ]
    }
}

fn events_per_second(load: &Load, batch_size: usize) -> f64 {
    (load.ok * batch_size) as f64 / load.elapsed.as_secs_f64()
}

/// `112,396 (1,000,000 events in 8.9 s, server 1.15 cores, machine 1.9)`.
fn load_figure(load: &Load, batch_size: usize) -> String {
    format!(
        "{} ({} events in {:.1} s, server {:.2} cores, machine {:.2})",
        thousands(events_per_second(load, batch_size)),
        thousands((load.ok * batch_size) as f64),
        load.elapsed.as_secs_f64(),
        load.server_cores,
        load.machine_cores
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers_get_thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(20_000_000.0), "20,000,000");
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(ms(0.123), "0.12");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(123.4), "123");
    }
}
