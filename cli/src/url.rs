//! `portico url [--stage dev]`: prints the base URL of a deployed stage's API.
//!
//! The URL comes from the deployment record (`.portico/deployed/<stage>.json`, no AWS call),
//! else from AWS: the REST API named `<app>-<stage>` carrying the app's `portico:app` /
//! `portico:stage` tags, and its stage. This module also holds what `invoke` and `delete` share:
//! finding the app, its stage and its record without building anything.

use std::path::PathBuf;

use crate::aws::{Aws, AwsArgs, AwsError};
use crate::config::Config;
use crate::deploy::apply::stage_url;
use crate::deploy::desired::{Names, TAG_APP, TAG_STAGE};
use crate::deploy::record::Record;
use crate::project::Project;
use crate::{AppDir, AppStage, CliError};

/// Arguments of `portico url`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app_stage: AppStage,
    #[command(flatten)]
    aws: AwsArgs,
}

/// A deployed stage as the commands that act on one see it: the app's config, the names of its
/// resources, and its record (if any).
pub struct StageTarget {
    /// `portico.toml`.
    pub config: Config,
    /// The stage's resource names.
    pub names: Names,
    /// Where the record is (or would be).
    pub record_path: PathBuf,
    /// The record, when there is one.
    pub record: Option<Record>,
}

impl StageTarget {
    /// The app at `app` and its stage `stage`; builds nothing.
    ///
    /// # Errors
    /// When there is no `portico.toml`, the stage is not declared, or the record is unreadable.
    pub fn find(app: &AppDir, stage: &str) -> Result<Self, CliError> {
        let project = Project::discover_prebuilt(&app.dir)?;
        project.config.stage(stage)?;
        let record_path = Record::path(&project.dir, stage);
        let record = Record::load(&record_path)?;
        Ok(Self {
            names: Names {
                app: project.config.app.name.get_ref().clone(),
                stage: stage.to_owned(),
            },
            config: project.config,
            record_path,
            record,
        })
    }

    /// The region the stage lives in, per `portico.toml` (`--region` overrides it).
    pub fn region(&self) -> Option<String> {
        self.config
            .stages
            .get(&self.names.stage)
            .and_then(|s| s.region.clone())
    }

    /// The API Gateway stage name.
    pub fn api_stage(&self) -> String {
        self.config.api_stage_name(&self.names.stage)
    }

    /// "no deployment of …; run `portico deploy --stage …` first".
    pub fn not_deployed(&self, what: &str) -> String {
        format!(
            "no deployment of app `{}` stage `{}` found ({what}); run `portico deploy --stage {}` first",
            self.names.app, self.names.stage, self.names.stage
        )
    }

    /// Whether `tags` mark a resource of this stage.
    pub fn owns(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        tags.get(TAG_APP) == Some(&self.names.app) && tags.get(TAG_STAGE) == Some(&self.names.stage)
    }

    /// The id of the stage's REST API found on AWS by name and tags (the oldest, if several).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn find_rest_api(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        let mut found: Vec<_> = aws
            .find_rest_apis(&self.names.rest_api())
            .await?
            .into_iter()
            .filter(|a| self.owns(&a.tags))
            .collect();
        found.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(found.into_iter().next().map(|a| a.id))
    }
}

/// Prints the stage's API URL on its own line.
///
/// # Errors
/// When the stage has no deployment, or AWS cannot be asked.
pub fn run(args: Args) -> Result<(), CliError> {
    let target = StageTarget::find(&args.app_stage.app, &args.app_stage.stage)?;
    if let Some(api) = target.record.as_ref().and_then(|r| r.api.as_ref()) {
        println!("{}", api.url);
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = rt.block_on(async {
        let aws = Aws::connect(&args.aws.options(target.region())).await;
        let Some(id) = target.find_rest_api(&aws).await? else {
            return Err::<_, CliError>(
                target
                    .not_deployed(&format!(
                        "no record at {} and no REST API named {} with its tags in {}",
                        target.record_path.display(),
                        target.names.rest_api(),
                        aws.region()
                    ))
                    .into(),
            );
        };
        let stage = target.api_stage();
        if aws.get_stage(&id, &stage).await?.is_none() {
            return Err(target
                .not_deployed(&format!(
                    "REST API {id} has no stage `{stage}` in {}",
                    aws.region()
                ))
                .into());
        }
        Ok(stage_url(&id, aws.region(), &stage))
    })?;
    println!("{url}");
    Ok(())
}
