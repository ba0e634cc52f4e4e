//! What a run's steps leave behind: screenshots, markdown reports and JSON files
//! (uploaded), and site bundles, notes and pull requests (registered by URL or
//! inline text).

use super::catalogue::{pick, Output, Profile, StepTemplate, DISPATCH_AGENT};
use super::plan::Plan;
use super::runner::{Halt, Runner};
use fixtures::CODE_REVIEWER;
use rand::rngs::StdRng;
use rand::Rng;
use runboard_client::Upload;
use serde_json::{json, Value};
use uuid::Uuid;

/// Size of the screenshots.
pub const SCREENSHOT_WIDTH: u32 = 160;
pub const SCREENSHOT_HEIGHT: u32 = 100;

/// Made-up screenshots of a landing page and of a careers page, one in each of
/// six brand colours (`server/assets/demo/`, drawn once; 8-bit RGB PNGs).
pub const LANDING_PAGES: [&[u8]; 6] = [
    include_bytes!("../../assets/demo/landing-1.png"),
    include_bytes!("../../assets/demo/landing-2.png"),
    include_bytes!("../../assets/demo/landing-3.png"),
    include_bytes!("../../assets/demo/landing-4.png"),
    include_bytes!("../../assets/demo/landing-5.png"),
    include_bytes!("../../assets/demo/landing-6.png"),
];
pub const CAREERS_PAGES: [&[u8]; 6] = [
    include_bytes!("../../assets/demo/careers-1.png"),
    include_bytes!("../../assets/demo/careers-2.png"),
    include_bytes!("../../assets/demo/careers-3.png"),
    include_bytes!("../../assets/demo/careers-4.png"),
    include_bytes!("../../assets/demo/careers-5.png"),
    include_bytes!("../../assets/demo/careers-6.png"),
];

impl Runner {
    /// The step's artifacts; returns their ids.
    pub(super) async fn outputs(
        &mut self,
        plan: &Plan,
        template: &StepTemplate,
    ) -> Result<Vec<String>, Halt> {
        let mut ids = Vec::new();
        let subject = self.subject();
        let run_id = self.job.run_id;
        for output in template.outputs {
            let id = match *output {
                Output::Screenshot(name) => {
                    let landing = plan.profile.slug == DISPATCH_AGENT;
                    // One of the brand colours, the same draw as ever.
                    let png = if landing {
                        *pick(&mut self.rng, &LANDING_PAGES)
                    } else {
                        *pick(&mut self.rng, &CAREERS_PAGES)
                    };
                    let metadata = json!({"width": SCREENSHOT_WIDTH, "height": SCREENSHOT_HEIGHT,
                        "page": if landing { "/" } else { "/careers" }});
                    self.upload(Upload {
                        step_id: template.id,
                        artifact_type: "screenshot",
                        name,
                        content_type: "image/png",
                        bytes: png.to_vec(),
                        metadata: &metadata,
                    })
                    .await?
                }
                Output::Markdown(name) => {
                    let text = markdown_report(plan.profile, &subject, run_id, &mut self.rng);
                    self.upload(Upload {
                        step_id: template.id,
                        artifact_type: "report",
                        name,
                        content_type: "text/markdown",
                        bytes: text.into_bytes(),
                        metadata: &json!({"words": 180}),
                    })
                    .await?
                }
                Output::JsonFile(name, artifact_type) => {
                    let value = json_file(name, &subject, run_id, &mut self.rng);
                    let bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
                    self.upload(Upload {
                        step_id: template.id,
                        artifact_type,
                        name,
                        content_type: "application/json",
                        bytes,
                        metadata: &json!({}),
                    })
                    .await?
                }
                Output::Bundle => {
                    let size = self.rng.gen_range(80_000..400_000);
                    let files = self.rng.gen_range(12..60);
                    self.register(json!({
                        "artifactType": "bundle",
                        "name": "site bundle",
                        "url": format!("https://preview.example.com/{run_id}/index.html"),
                        "contentType": "text/html",
                        "sizeBytes": size,
                        "stepId": template.id,
                        "metadata": {"cdn": "example", "files": files},
                    }))
                    .await?
                }
                Output::Note(name) => {
                    let text = format!(
                        "{subject}: done by {} on {}.\nSteps: {}. See the attached files for details.\n",
                        plan.profile.slug,
                        self.host,
                        plan.steps.len()
                    );
                    self.register(json!({
                        "artifactType": "report",
                        "name": name,
                        "contentType": "text/plain",
                        "inlineText": text,
                        "stepId": template.id,
                    }))
                    .await?
                }
                Output::PullRequest => {
                    let number = self.job.input["pullRequest"].as_u64().unwrap_or(1);
                    self.register(json!({
                        "artifactType": "source_code",
                        "name": format!("{subject}#{number}"),
                        "url": format!("https://git.example.com/{subject}/pull/{number}"),
                        "stepId": template.id,
                    }))
                    .await?
                }
            };
            ids.extend(id);
        }
        Ok(ids)
    }
}

fn markdown_report(profile: &Profile, subject: &str, run_id: Uuid, rng: &mut StdRng) -> String {
    let date = chrono::Utc::now().format("%Y-%m-%d");
    if profile.slug == CODE_REVIEWER {
        let files = rng.gen_range(2..12);
        format!(
            "# Review of {subject}\n\n_Run `{run_id}` · {date}_\n\n**Verdict:** approve with comments\n\n\
             ## Summary\n\n{files} files changed. The change is well tested; two small points below.\n\n\
             ## Comments\n\n\
             - `src/handlers.rs:{}` — this error is swallowed; log it or return it.\n\
             - `src/db.rs:{}` — the query runs once per item; batch it.\n\n\
             | check | result |\n| --- | --- |\n| lint | ✅ clean |\n| tests | ✅ {} passed |\n| coverage | {}% |\n",
            rng.gen_range(10..400),
            rng.gen_range(10..400),
            rng.gen_range(120..900),
            rng.gen_range(70..95),
        )
    } else {
        let sources = rng.gen_range(6..20);
        format!(
            "# Market brief: {subject}\n\n_Run `{run_id}` · {date} · {sources} sources_\n\n\
             ## Key findings\n\n\
             1. Most vendors price per seat plus usage; {}% publish their prices.\n\
             2. Self-serve trials are now the norm; enterprise plans hide prices.\n\
             3. Two new entrants this quarter, both open source.\n\n\
             ## Comparison\n\n| vendor | model | free tier |\n| --- | --- | --- |\n\
             | Alpha | per seat | yes |\n| Beta | usage | 14-day trial |\n| Gamma | flat | no |\n\n\
             ## Next steps\n\n- Watch Beta's pricing page weekly.\n- Interview three customers.\n",
            rng.gen_range(40..90),
        )
    }
}

fn json_file(name: &str, subject: &str, run_id: Uuid, rng: &mut StdRng) -> Value {
    match name {
        "sources.json" => {
            let count = rng.gen_range(4..9);
            let sources: Vec<Value> = (1..=count)
                .map(|n| {
                    json!({
                        "n": n,
                        "url": format!("https://news.example.com/article/{}", rng.gen_range(1000..9999)),
                        "relevance": f64::from(rng.gen_range(50..100)) / 100.0,
                    })
                })
                .collect();
            json!({"run": run_id, "topic": subject, "sources": sources})
        }
        "tokens.json" => json!({
            "brand": subject,
            "color": {"primary": format!("#{:06x}", rng.gen_range(0..0xffffff)),
                      "surface": "#f7f7fb", "text": "#1f2430"},
            "font": {"heading": "Inter", "body": "Inter"},
            "radius": rng.gen_range(4..16),
        }),
        "roles.json" => {
            let mut roles = Vec::new();
            for title in [
                "Backend Engineer",
                "Product Designer",
                "Data Scientist",
                "Support Lead",
            ] {
                if rng.gen_bool(0.7) {
                    let location = *pick(rng, &["Remote", "London", "New York", "Berlin"]);
                    roles.push(json!({"title": title, "location": location}));
                }
            }
            json!({"company": subject, "roles": roles})
        }
        _ => json!({
            "run": run_id,
            "object": subject,
            "fetched": rng.gen_range(200..5000),
            "inserted": rng.gen_range(0..200),
            "updated": rng.gen_range(0..800),
            "skipped": rng.gen_range(0..20),
        }),
    }
}
