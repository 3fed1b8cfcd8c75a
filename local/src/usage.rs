//! API keys and usage plans, enforced the way API Gateway enforces them on methods that require
//! an API key.
//!
//! - [`ApiKeys`] resolves the `[[api_keys]]` of `portico.toml` to values: literal values as
//!   written, `"generate"` as a random 40-character key made once and kept in the store, so it
//!   survives restarts. The values are written to `.portico/local/api-keys.json` (mode 0600).
//! - [`Enforcer`] decides each request: the `x-api-key` value must belong to a key that is in a
//!   usage plan (else `403 Forbidden`); the plan's throttle is a token bucket per key (`rate`
//!   tokens per second refill a bucket of `burst`; empty → `429 Too Many Requests`); its quota
//!   counts requests per UTC day, week (from Monday) or month (from the 1st) in the store
//!   (over → `429 Limit Exceeded`), so counts survive a restart.
//!
//! Time is a parameter (`now_ms`) everywhere, so tests never wait. The small civil-date
//! arithmetic the quota periods need lives here too; the gateway formats `requestTime` with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::BoxError;
use crate::store::Store;
use portico_spec::config::Config;

/// The value of `api_keys.value` that asks for a generated key.
const GENERATE: &str = "generate";

/// Length of a generated key (API Gateway's generated keys have 40 characters).
const GENERATED_LEN: usize = 40;

/// The resolved values of the app's `[[api_keys]]`, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    /// `(name, value)` pairs.
    keys: Vec<(String, String)>,
}

impl ApiKeys {
    /// Resolves the values of `[[api_keys]]`: literal values as given; `"generate"` → a random
    /// 40-character key generated once and kept in `store` (so it survives restarts). Writes
    /// every value to [`ApiKeys::file`] in `local_dir` (`{"name": "value"}`, mode 0600), or
    /// removes a stale file when there are no keys.
    ///
    /// # Errors
    /// When the store cannot be read or written, no random bytes are available, or the file
    /// cannot be written.
    pub fn resolve(config: &Config, store: &Store, local_dir: &Path) -> Result<Self, BoxError> {
        let mut keys = Vec::with_capacity(config.api_keys.len());
        for key in &config.api_keys {
            let name = key.name.get_ref().clone();
            let value = key.value.get_ref();
            let value = if value == GENERATE {
                generated_value(store, &name)?
            } else {
                value.clone()
            };
            keys.push((name, value));
        }
        let keys = Self { keys };
        keys.write_file(local_dir)?;
        Ok(keys)
    }

    /// The file holding the key values: `<local_dir>/api-keys.json`.
    pub fn file(local_dir: &Path) -> PathBuf {
        local_dir.join("api-keys.json")
    }

    /// `(name, value)` of every key, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Keys given directly, for tests.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self {
            keys: pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The name of the key whose value is `value`.
    fn name_of(&self, value: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, v)| v == value)
            .map(|(n, _)| n.as_str())
    }

    fn write_file(&self, local_dir: &Path) -> Result<(), BoxError> {
        let path = Self::file(local_dir);
        if self.keys.is_empty() {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display()).into()),
            }
            return Ok(());
        }
        let map: serde_json::Map<String, serde_json::Value> = self
            .keys
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut text = serde_json::to_string_pretty(&map)?;
        text.push('\n');
        crate::files::write_private(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
    }
}

/// The stored generated value of key `name`, generating and storing it the first time.
fn generated_value(store: &Store, name: &str) -> Result<String, BoxError> {
    let kv_key = format!("api_key.{name}");
    if let Some(value) = store.get_value(&kv_key)? {
        if value.len() == GENERATED_LEN && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(value);
        }
    }
    let value = random_key(GENERATED_LEN).map_err(|e| {
        format!(
            "cannot generate API key `{name}`: the operating system's random source failed: {e}"
        )
    })?;
    store.set_value(&kv_key, &value)?;
    Ok(value)
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes(len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    crate::ids::fill(&mut buf).map_err(std::io::Error::other)?;
    Ok(buf)
}

/// A random string of `len` ASCII letters and digits, without modulo bias.
fn random_key(len: usize) -> std::io::Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes(len * 2)? {
            // 248 = 4 * 62: bytes at or above it would favour the first letters.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

/// A short, stable, lowercase alphanumeric id derived from `seed` (like API Gateway's ids).
pub(crate) fn short_id(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a, then splitmix to spread it over all the characters.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = String::with_capacity(len);
    let mut state = hash;
    while out.len() < len {
        let mut word = splitmix64(&mut state);
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(word % 36) as usize] as char);
            word /= 36;
        }
    }
    out
}

/// One step of the splitmix64 generator: a bijection of the advanced state.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A quota period; each starts at 00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every day.
    Day,
    /// Every week, starting on Monday.
    Week,
    /// Every month, starting on the 1st.
    Month,
}

impl Period {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "DAY" => Some(Self::Day),
            "WEEK" => Some(Self::Week),
            "MONTH" => Some(Self::Month),
            _ => None,
        }
    }

    /// The start (Unix seconds) of the period containing `unix_secs`.
    pub fn start(self, unix_secs: i64) -> i64 {
        let day = unix_secs.div_euclid(86_400);
        let first_day = match self {
            Self::Day => day,
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            Self::Week => day - (day + 3).rem_euclid(7),
            Self::Month => return crate::clock::start_of_month(unix_secs),
        };
        first_day * 86_400
    }
}

/// A usage plan as the gateway applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSpec {
    name: String,
    throttle: Option<ThrottleSpec>,
    quota: Option<QuotaSpec>,
    /// Names of the keys in the plan.
    keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ThrottleSpec {
    /// Tokens added per second.
    rate: f64,
    /// Bucket size.
    burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QuotaSpec {
    limit: u64,
    period: Period,
}

impl PlanSpec {
    /// The `[[usage_plans]]` of `config` (already validated by the config loader).
    pub fn from_config(config: &Config) -> Vec<Self> {
        config
            .usage_plans
            .iter()
            .map(|plan| Self {
                name: plan.name.get_ref().clone(),
                throttle: plan.throttle.as_ref().map(|t| ThrottleSpec {
                    rate: *t.rate.get_ref(),
                    burst: *t.burst.get_ref(),
                }),
                quota: plan.quota.as_ref().and_then(|q| {
                    Some(QuotaSpec {
                        limit: *q.limit.get_ref(),
                        period: Period::parse(q.period.get_ref())?,
                    })
                }),
                keys: plan.api_keys.iter().map(|k| k.get_ref().clone()).collect(),
            })
            .collect()
    }
}

/// What the gateway does with a request to a method that requires an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDecision {
    /// Pass it on; the event's `requestContext.identity` gets the key.
    Allowed {
        /// The key's value (`identity.apiKey`).
        value: String,
        /// A stable id for the key (`identity.apiKeyId`).
        id: String,
    },
    /// `x-api-key` missing, unknown, or its key is in no usage plan: `403 Forbidden`.
    Forbidden(&'static str),
    /// The plan's token bucket is empty: `429 Too Many Requests`.
    Throttled,
    /// The plan's quota for the current period is used up: `429 Limit Exceeded`.
    QuotaExceeded,
    /// The quota counter could not be read or written.
    StoreFailed(String),
}

/// A token bucket: `tokens` at `updated_ms`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// Applies API keys and usage plans; shared by every request.
#[derive(Debug)]
pub struct Enforcer {
    keys: ApiKeys,
    plans: Vec<PlanSpec>,
    /// Per (plan index, key name): throttle state lives in memory, like API Gateway's.
    buckets: Mutex<HashMap<(usize, String), Bucket>>,
}

impl Enforcer {
    /// An enforcer for `plans` over the resolved `keys`.
    pub fn new(plans: Vec<PlanSpec>, keys: ApiKeys) -> Self {
        Self {
            keys,
            plans,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Decides a request that presents `api_key` (the `x-api-key` header) at `now_ms`
    /// (Unix milliseconds), counting it against the quota in `store` when it passes.
    pub fn check(&self, api_key: Option<&str>, now_ms: i64, store: &Store) -> KeyDecision {
        let Some(value) = api_key.filter(|v| !v.is_empty()) else {
            return KeyDecision::Forbidden("no x-api-key header");
        };
        let Some(name) = self.keys.name_of(value) else {
            return KeyDecision::Forbidden("the x-api-key value is not a key of this app");
        };
        // A key belongs to at most one plan per API stage on AWS; the first plan naming it wins.
        let Some((index, plan)) = self
            .plans
            .iter()
            .enumerate()
            .find(|(_, p)| p.keys.iter().any(|k| k == name))
        else {
            return KeyDecision::Forbidden("the API key is in no usage plan");
        };
        if let Some(throttle) = plan.throttle {
            if !self.take_token(index, name, throttle, now_ms) {
                return KeyDecision::Throttled;
            }
        }
        if let Some(quota) = plan.quota {
            let period_start = quota.period.start(now_ms.div_euclid(1000));
            match store.try_consume_quota(name, &plan.name, period_start, quota.limit) {
                Ok(true) => {}
                Ok(false) => return KeyDecision::QuotaExceeded,
                Err(e) => return KeyDecision::StoreFailed(e.to_string()),
            }
        }
        KeyDecision::Allowed {
            value: value.to_owned(),
            id: short_id(&format!("api-key/{name}"), 10),
        }
    }

    fn take_token(&self, plan: usize, key: &str, throttle: ThrottleSpec, now_ms: i64) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let capacity = f64::from(throttle.burst);
        let bucket = buckets.entry((plan, key.to_owned())).or_insert(Bucket {
            tokens: capacity,
            updated_ms: now_ms,
        });
        // A clock that steps back refills nothing (and takes nothing away).
        let elapsed_ms = (now_ms - bucket.updated_ms).max(0);
        bucket.tokens = (bucket.tokens + elapsed_ms as f64 / 1000.0 * throttle.rate).min(capacity);
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("portico.toml"), text).unwrap()
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "portico-usage-{tag}-{}-{}",
            std::process::id(),
            short_id(&format!("{:?}", std::time::SystemTime::now()), 6)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn secs(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> i64 {
        crate::clock::unix_secs(year, month, day, hour, minute, 0).unwrap()
    }

    #[test]
    fn a_day_starts_at_midnight_utc() {
        let t = secs(2024, 4, 30, 13, 37);
        assert_eq!(Period::Day.start(t), secs(2024, 4, 30, 0, 0));
        assert_eq!(
            Period::Day.start(secs(2024, 5, 1, 0, 0)),
            secs(2024, 5, 1, 0, 0)
        );
        assert_eq!(
            Period::Day.start(secs(2024, 5, 1, 0, 0) - 1),
            secs(2024, 4, 30, 0, 0)
        );
        // Before the epoch too.
        assert_eq!(Period::Day.start(-1), -86_400);
    }

    #[test]
    fn a_week_starts_on_monday() {
        // 2024-04-29 is a Monday, 2024-05-05 a Sunday.
        let monday = secs(2024, 4, 29, 0, 0);
        for day in 29..=30 {
            assert_eq!(Period::Week.start(secs(2024, 4, day, 12, 0)), monday);
        }
        for day in 1..=5 {
            assert_eq!(Period::Week.start(secs(2024, 5, day, 23, 59)), monday);
        }
        assert_eq!(
            Period::Week.start(secs(2024, 5, 6, 0, 0)),
            secs(2024, 5, 6, 0, 0)
        );
        // Across a year: 2025-01-01 is a Wednesday; its week began on Monday 2024-12-30.
        assert_eq!(
            Period::Week.start(secs(2025, 1, 1, 8, 0)),
            secs(2024, 12, 30, 0, 0)
        );
        // The epoch was a Thursday.
        assert_eq!(Period::Week.start(0), secs(1969, 12, 29, 0, 0));
    }

    #[test]
    fn a_month_starts_on_the_first() {
        for (at, first) in [
            (secs(2024, 4, 30, 13, 37), secs(2024, 4, 1, 0, 0)),
            (secs(2024, 2, 29, 23, 59), secs(2024, 2, 1, 0, 0)),
            (secs(2024, 3, 1, 0, 0), secs(2024, 3, 1, 0, 0)),
            (secs(2023, 3, 1, 0, 0) - 1, secs(2023, 2, 1, 0, 0)),
            (secs(2024, 12, 31, 23, 59), secs(2024, 12, 1, 0, 0)),
            (secs(2025, 1, 1, 0, 0), secs(2025, 1, 1, 0, 0)),
            (secs(2000, 2, 29, 12, 0), secs(2000, 2, 1, 0, 0)),
        ] {
            assert_eq!(Period::Month.start(at), first, "{at}");
        }
    }

    fn allowed(decision: KeyDecision) -> bool {
        matches!(decision, KeyDecision::Allowed { .. })
    }

    fn plans(text: &str) -> Vec<PlanSpec> {
        PlanSpec::from_config(&config(text))
    }

    const PLANS: &str = include_str!("fixtures/usage-plans.toml");

    fn enforcer() -> Enforcer {
        let keys = ApiKeys::from_pairs(&[
            ("partner", "partner-key-0123456789"),
            ("lonely", "lonely-key-0123456789"),
            ("daily", "daily-key-01234567890"),
        ]);
        Enforcer::new(plans(PLANS), keys)
    }

    #[test]
    fn plans_come_from_the_config() {
        let plans = plans(PLANS);
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].name, "basic");
        assert_eq!(
            plans[0].throttle,
            Some(ThrottleSpec {
                rate: 2.0,
                burst: 3
            })
        );
        assert_eq!(plans[0].quota, None);
        assert_eq!(
            plans[1].quota,
            Some(QuotaSpec {
                limit: 2,
                period: Period::Day
            })
        );
        assert_eq!(plans[1].keys, ["daily"]);
    }

    #[test]
    fn missing_unknown_or_planless_keys_are_forbidden() {
        let store = Store::in_memory();
        let e = enforcer();
        assert!(matches!(
            e.check(None, 0, &store),
            KeyDecision::Forbidden(_)
        ));
        assert!(matches!(
            e.check(Some(""), 0, &store),
            KeyDecision::Forbidden(_)
        ));
        assert!(matches!(
            e.check(Some("nope"), 0, &store),
            KeyDecision::Forbidden(_)
        ));
        assert!(matches!(
            e.check(Some("lonely-key-0123456789"), 0, &store),
            KeyDecision::Forbidden("the API key is in no usage plan")
        ));
        match e.check(Some("partner-key-0123456789"), 0, &store) {
            KeyDecision::Allowed { value, id } => {
                assert_eq!(value, "partner-key-0123456789");
                assert_eq!(id.len(), 10);
                assert_eq!(id, short_id("api-key/partner", 10));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_token_bucket_allows_a_burst_then_refills_at_the_rate() {
        let store = Store::in_memory();
        let e = enforcer();
        let key = Some("partner-key-0123456789");
        let t0 = 1_700_000_000_000;
        for _ in 0..3 {
            assert!(allowed(e.check(key, t0, &store)));
        }
        assert_eq!(e.check(key, t0, &store), KeyDecision::Throttled);
        // 2 per second: one token after 500 ms, not before.
        assert_eq!(e.check(key, t0 + 499, &store), KeyDecision::Throttled);
        assert!(allowed(e.check(key, t0 + 500, &store)));
        assert_eq!(e.check(key, t0 + 500, &store), KeyDecision::Throttled);
        // A long pause refills to the burst, not beyond.
        let later = t0 + 60_000;
        for _ in 0..3 {
            assert!(allowed(e.check(key, later, &store)));
        }
        assert_eq!(e.check(key, later, &store), KeyDecision::Throttled);
        // A clock stepping back neither refills nor panics.
        assert_eq!(e.check(key, t0, &store), KeyDecision::Throttled);
    }

    #[test]
    fn quotas_count_per_period_and_persist_in_the_store() {
        let store = Store::in_memory();
        let e = enforcer();
        let key = Some("daily-key-01234567890");
        let morning = secs(2024, 4, 30, 8, 0) * 1000;
        assert!(allowed(e.check(key, morning, &store)));
        assert!(allowed(e.check(key, morning + 1, &store)));
        assert_eq!(
            e.check(key, morning + 2, &store),
            KeyDecision::QuotaExceeded
        );
        // A new enforcer (a restart) sees the same counts.
        let restarted = enforcer();
        assert_eq!(
            restarted.check(key, morning + 3, &store),
            KeyDecision::QuotaExceeded
        );
        // The next UTC day starts afresh.
        let tomorrow = secs(2024, 5, 1, 0, 0) * 1000;
        assert!(allowed(restarted.check(key, tomorrow, &store)));
        assert_eq!(
            store
                .quota_used("daily", "metered", secs(2024, 4, 30, 0, 0))
                .unwrap(),
            2
        );
    }

    #[test]
    fn throttled_requests_do_not_use_the_quota() {
        let text = include_str!("fixtures/usage-throttle-and-quota.toml");
        let store = Store::in_memory();
        let e = Enforcer::new(
            plans(text),
            ApiKeys::from_pairs(&[("k", "k-key-0123456789012345")]),
        );
        let t = secs(2024, 4, 30, 8, 0) * 1000;
        assert!(allowed(e.check(Some("k-key-0123456789012345"), t, &store)));
        assert_eq!(
            e.check(Some("k-key-0123456789012345"), t, &store),
            KeyDecision::Throttled
        );
        assert_eq!(
            store
                .quota_used("k", "both", secs(2024, 4, 1, 0, 0))
                .unwrap(),
            1
        );
    }

    #[test]
    fn generated_keys_are_kept_in_the_store_and_written_privately() {
        let text = r#"
[app]
name = "shop"
[[api_keys]]
name = "hr"
[[api_keys]]
name = "partner"
value = "0123456789abcdefghijk"
"#;
        let config = config(text);
        let dir = temp_dir("keys");
        let store = Store::open(&dir.join("state.db")).unwrap();
        let keys = ApiKeys::resolve(&config, &store, &dir).unwrap();
        let pairs: Vec<(&str, &str)> = keys.iter().collect();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].0, "hr");
        assert_eq!(pairs[0].1.len(), 40);
        assert!(pairs[0].1.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(pairs[1], ("partner", "0123456789abcdefghijk"));

        let file = ApiKeys::file(&dir);
        assert_eq!(file, dir.join("api-keys.json"));
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(written["hr"], pairs[0].1);
        assert_eq!(written["partner"], "0123456789abcdefghijk");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // Reopening (a restart) gives the same generated value.
        let first = pairs[0].1.to_owned();
        drop(store);
        let store = Store::open(&dir.join("state.db")).unwrap();
        let again = ApiKeys::resolve(&config, &store, &dir).unwrap();
        assert_eq!(again.iter().next().unwrap().1, first);

        // No keys: the stale file goes.
        let none =
            ApiKeys::resolve(&self::config("[app]\nname = \"shop\"\n"), &store, &dir).unwrap();
        assert_eq!(none.iter().count(), 0);
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn random_keys_differ_and_short_ids_are_stable() {
        let a = random_key(40).unwrap();
        let b = random_key(40).unwrap();
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
        assert_eq!(short_id("x", 6), short_id("x", 6));
        assert_ne!(short_id("x", 6), short_id("y", 6));
        assert_eq!(short_id("x", 13).len(), 13);
        assert!(
            short_id("x", 13)
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
