//! What each intrinsic function computes from its evaluated arguments, as the Step Functions
//! developer guide defines it (<https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html>).
//!
//! A function given arguments it cannot take answers `Err` with what is wrong; the caller
//! reports it as AWS does, `States.Runtime` with `Invalid arguments in States.<Name>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::Digest as _;

/// The longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` take.
const MAX_DATA_CHARS: usize = 10_000;
/// The longest array `States.ArrayRange` makes.
const MAX_RANGE_ITEMS: usize = 1_000;

/// Calls the function `name` (`States.…`) with `args`.
pub(super) fn apply(name: &str, args: Vec<Value>) -> Result<Value, String> {
    match name {
        "States.Format" => format(&args),
        "States.StringToJson" => match args.as_slice() {
            [Value::String(s)] => {
                serde_json::from_str(s).map_err(|e| format!("the argument is not JSON: {e}"))
            }
            _ => Err("takes one string".into()),
        },
        "States.JsonToString" => match args.as_slice() {
            [value] => Ok(Value::String(value.to_string())),
            _ => Err("takes one argument".into()),
        },
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => array_partition(&args),
        "States.ArrayContains" => match args.as_slice() {
            [Value::Array(items), wanted] => {
                Ok(Value::Bool(items.iter().any(|i| json_equal(i, wanted))))
            }
            _ => Err("takes an array and a value".into()),
        },
        "States.ArrayRange" => array_range(&args),
        "States.ArrayGetItem" => match args.as_slice() {
            [Value::Array(items), index] => {
                let index = integer(index, "the index")?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "the index {index} is outside the array (of {} items)",
                            items.len()
                        )
                    })
            }
            _ => Err("takes an array and an index".into()),
        },
        "States.ArrayLength" => match args.as_slice() {
            [Value::Array(items)] => Ok(Value::from(items.len())),
            _ => Err("takes one array".into()),
        },
        "States.ArrayUnique" => match args.as_slice() {
            [Value::Array(items)] => {
                let mut unique: Vec<Value> = Vec::new();
                for item in items {
                    if !unique.iter().any(|seen| json_equal(seen, item)) {
                        unique.push(item.clone());
                    }
                }
                Ok(Value::Array(unique))
            }
            _ => Err("takes one array".into()),
        },
        "States.Base64Encode" => match args.as_slice() {
            [Value::String(s)] => {
                limit(s)?;
                Ok(Value::String(STANDARD.encode(s)))
            }
            _ => Err("takes one string".into()),
        },
        "States.Base64Decode" => match args.as_slice() {
            [Value::String(s)] => {
                limit(s)?;
                let bytes = STANDARD
                    .decode(s)
                    .map_err(|e| format!("the argument is not base64: {e}"))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| "the decoded data is not UTF-8 text".into())
            }
            _ => Err("takes one string".into()),
        },
        "States.Hash" => hash(&args),
        "States.JsonMerge" => match args.as_slice() {
            [
                Value::Object(first),
                Value::Object(second),
                Value::Bool(false),
            ] => {
                let mut merged: Map<String, Value> = first.clone();
                // Shallow: a key of the second object replaces the first's (in its place).
                for (key, value) in second {
                    merged.insert(key.clone(), value.clone());
                }
                Ok(Value::Object(merged))
            }
            [Value::Object(_), Value::Object(_), Value::Bool(true)] => {
                Err("only the shallow merge is supported: the third argument must be false".into())
            }
            _ => Err("takes two objects and false".into()),
        },
        "States.MathRandom" => math_random(&args),
        "States.MathAdd" => match args.as_slice() {
            [a, b] => {
                let (a, b) = (int32(a)?, int32(b)?);
                Ok(Value::from(i64::from(a) + i64::from(b)))
            }
            _ => Err("takes two integers".into()),
        },
        "States.StringSplit" => match args.as_slice() {
            [Value::String(text), Value::String(delimiters)] => {
                // Every character of the second argument delimits (the guide splits
                // "This.is+a,test=string" on ".+,="); no empty strings come out.
                let parts = text
                    .split(|c| delimiters.contains(c))
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()))
                    .collect();
                Ok(Value::Array(parts))
            }
            _ => Err("takes two strings".into()),
        },
        "States.UUID" if args.is_empty() => Ok(Value::String(crate::ids::uuid_v4())),
        "States.UUID" => Err("takes no argument".into()),
        other => Err(format!("`{other}` is not supported")),
    }
}

fn format(args: &[Value]) -> Result<Value, String> {
    let Some(Value::String(template)) = args.first() else {
        return Err("the first argument must be a string".into());
    };
    let mut values = args[1..].iter();
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                match values.next().ok_or("more `{}` than arguments")? {
                    Value::String(s) => out.push_str(s),
                    Value::Array(_) | Value::Object(_) => {
                        return Err("arguments must be strings, numbers, booleans or null".into());
                    }
                    other => out.push_str(&other.to_string()),
                }
            }
            c => out.push(c),
        }
    }
    if values.next().is_some() {
        return Err("more arguments than `{}`".into());
    }
    Ok(Value::String(out))
}

fn array_partition(args: &[Value]) -> Result<Value, String> {
    let [Value::Array(items), size] = args else {
        return Err("takes an array and a chunk size".into());
    };
    let size = integer(size, "the chunk size")?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("the chunk size must be a positive integer, not {size}"))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}

fn array_range(args: &[Value]) -> Result<Value, String> {
    let [first, last, step] = args else {
        return Err("takes a first value, a last value and a step".into());
    };
    let (first, last, step) = (
        integer(first, "the first value")?,
        integer(last, "the last value")?,
        integer(step, "the step")?,
    );
    if step == 0 {
        return Err("the step must not be 0".into());
    }
    let mut items = Vec::new();
    let mut at = first;
    while (step > 0 && at <= last) || (step < 0 && at >= last) {
        if items.len() == MAX_RANGE_ITEMS {
            return Err(format!(
                "the array would have more than {MAX_RANGE_ITEMS} items"
            ));
        }
        items.push(Value::from(at));
        at += step;
    }
    Ok(Value::Array(items))
}

fn hash(args: &[Value]) -> Result<Value, String> {
    let [data, Value::String(algorithm)] = args else {
        return Err("takes the data and an algorithm name".into());
    };
    let text = match data {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    limit(&text)?;
    let digest: Vec<u8> = match algorithm.as_str() {
        "MD5" => md5::Md5::digest(&text).to_vec(),
        "SHA-1" => sha1::Sha1::digest(&text).to_vec(),
        "SHA-256" => sha2::Sha256::digest(&text).to_vec(),
        "SHA-384" => sha2::Sha384::digest(&text).to_vec(),
        "SHA-512" => sha2::Sha512::digest(&text).to_vec(),
        other => {
            return Err(format!(
                "the algorithm `{other}` is none of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            ));
        }
    };
    Ok(Value::String(
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

fn math_random(args: &[Value]) -> Result<Value, String> {
    let (start, end, seed) = match args {
        [start, end] => (start, end, None),
        [start, end, seed] => (start, end, Some(integer(seed, "the seed")?)),
        _ => return Err("takes a start, an end and an optional seed".into()),
    };
    let (start, end) = (integer(start, "the start")?, integer(end, "the end")?);
    if start >= end {
        return Err(format!("the start ({start}) must be below the end ({end})"));
    }
    let span = end.abs_diff(start);
    let draw = match seed {
        // The same seed gives the same number, as the guide promises (not AWS's numbers).
        Some(seed) => splitmix64(seed as u64),
        None => crate::ids::u64(),
    };
    let offset = i64::try_from(draw % span).unwrap_or(0);
    Ok(Value::from(start + offset))
}

/// One step of SplitMix64: a well-spread number from a seed.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number rounded to the nearest integer, as the guide says non-integers are.
fn integer(value: &Value, what: &str) -> Result<i64, String> {
    if let Some(n) = value.as_i64() {
        return Ok(n);
    }
    match value.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.round() as i64),
        _ => Err(format!("{what} must be an integer, not {value}")),
    }
}

/// `States.MathAdd`'s operands: integers from -2147483648 to 2147483647.
fn int32(value: &Value) -> Result<i32, String> {
    let n = integer(value, "an operand")?;
    i32::try_from(n).map_err(|_| format!("the operand {n} is outside -2147483648 to 2147483647"))
}

fn limit(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_DATA_CHARS {
        return Err(format!(
            "the data has more than {MAX_DATA_CHARS} characters"
        ));
    }
    Ok(())
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn call(name: &str, args: Value) -> Result<Value, String> {
        let Value::Array(args) = args else {
            panic!("args as an array")
        };
        apply(name, args)
    }

    #[test]
    fn array_functions_follow_the_developer_guide() {
        let nine = json!([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(
            call("States.ArrayPartition", json!([nine, 4])).unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        // Non-integers are rounded.
        assert_eq!(
            call("States.ArrayPartition", json!([[1, 2, 3], 1.6])).unwrap(),
            json!([[1, 2], [3]])
        );
        for size in [json!(0), json!(-1), json!(0.4), json!("2")] {
            assert!(call("States.ArrayPartition", json!([[1], size])).is_err());
        }
        assert!(call("States.ArrayPartition", json!(["abc", 2])).is_err());
        assert_eq!(
            call("States.ArrayContains", json!([nine, 5])).unwrap(),
            json!(true)
        );
        assert_eq!(
            call("States.ArrayContains", json!([[{"a": [1]}], {"a": [1.0]}])).unwrap(),
            json!(true)
        );
        assert_eq!(
            call("States.ArrayContains", json!([nine, "5"])).unwrap(),
            json!(false)
        );
        assert_eq!(
            call("States.ArrayRange", json!([1, 9, 2])).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            call("States.ArrayRange", json!([5, 0, -2])).unwrap(),
            json!([5, 3, 1])
        );
        assert_eq!(
            call("States.ArrayRange", json!([1, 1000, 1]))
                .unwrap()
                .as_array()
                .map(Vec::len),
            Some(1000)
        );
        assert!(call("States.ArrayRange", json!([1, 1001, 1])).is_err());
        assert!(call("States.ArrayRange", json!([1, 9, 0])).is_err());
        assert_eq!(
            call("States.ArrayGetItem", json!([nine, 5])).unwrap(),
            json!(6)
        );
        assert!(call("States.ArrayGetItem", json!([nine, 9])).is_err());
        assert!(call("States.ArrayGetItem", json!([nine, -1])).is_err());
        assert_eq!(call("States.ArrayLength", json!([nine])).unwrap(), json!(9));
        assert_eq!(
            call("States.ArrayUnique", json!([[1, 2, 3, 3, 3, 3, 3, 3, 4]])).unwrap(),
            json!([1, 2, 3, 4])
        );
        assert_eq!(
            call(
                "States.ArrayUnique",
                json!([["b", {"x": 1}, "b", {"x": 1}, 2, 2.0]])
            )
            .unwrap(),
            json!(["b", {"x": 1}, 2])
        );
    }

    #[test]
    fn encoding_hashing_and_json_functions() {
        assert_eq!(
            call("States.Base64Encode", json!(["Data to encode"])).unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            call("States.Base64Decode", json!(["RGF0YSB0byBlbmNvZGU="])).unwrap(),
            json!("Data to encode")
        );
        assert!(call("States.Base64Decode", json!(["not base64!"])).is_err());
        assert!(
            call("States.Base64Decode", json!(["//79"])).is_err(),
            "not UTF-8"
        );
        assert!(call("States.Base64Encode", json!(["x".repeat(10_001)])).is_err());
        assert!(call("States.Base64Encode", json!([1])).is_err());
        // Digests of "input data" (`printf 'input data' | md5sum`, `sha1sum`, …).
        for (algorithm, hex) in [
            ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
            ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
            (
                "SHA-256",
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
            ),
            (
                "SHA-384",
                "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
            ),
            (
                "SHA-512",
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
            ),
        ] {
            let got = call("States.Hash", json!(["input data", algorithm])).unwrap();
            assert_eq!(got, json!(hex), "{algorithm}");
        }
        // Data that is not a string is hashed as its JSON text.
        assert_eq!(
            call("States.Hash", json!([1, "SHA-1"])).unwrap(),
            json!("356a192b7913b04c54574d18c28d46e6395428ab")
        );
        assert!(call("States.Hash", json!(["input data", "sha-1"])).is_err());
        assert_eq!(
            call(
                "States.JsonMerge",
                json!([{"a": {"a1": 1, "a2": 2}, "b": 2}, {"a": {"a3": 1, "a4": 2}, "c": 3}, false])
            )
            .unwrap(),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        assert!(call("States.JsonMerge", json!([{"a": 1}, {"b": 2}, true])).is_err());
        assert!(call("States.JsonMerge", json!([{"a": 1}, [2], false])).is_err());
        assert!(call("States.JsonMerge", json!([{"a": 1}, {"b": 2}])).is_err());
        assert_eq!(
            call(
                "States.StringSplit",
                json!(["This.is+a,test=string", ".+,="])
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            call("States.StringSplit", json!(["1,,2,", ","])).unwrap(),
            json!(["1", "2"])
        );
        assert!(call("States.StringSplit", json!(["1,2", 1])).is_err());
    }

    #[test]
    fn math_functions_round_and_check_their_ranges() {
        assert_eq!(
            call("States.MathAdd", json!([111, -1])).unwrap(),
            json!(110)
        );
        assert_eq!(call("States.MathAdd", json!([1.6, 1])).unwrap(), json!(3));
        assert_eq!(
            call("States.MathAdd", json!([2_147_483_647, 1])).unwrap(),
            json!(2_147_483_648_i64)
        );
        assert!(call("States.MathAdd", json!([2_147_483_648_i64, 1])).is_err());
        assert!(call("States.MathAdd", json!(["1", 1])).is_err());
        for _ in 0..200 {
            let n = call("States.MathRandom", json!([1, 999]))
                .unwrap()
                .as_i64()
                .unwrap();
            assert!((1..999).contains(&n), "{n}");
        }
        let seeded = |seed: i64| call("States.MathRandom", json!([1, 1_000_000, seed])).unwrap();
        assert_eq!(seeded(7), seeded(7));
        assert_ne!(seeded(7), seeded(8));
        assert_eq!(call("States.MathRandom", json!([1, 2])).unwrap(), json!(1));
        assert!(call("States.MathRandom", json!([5, 5])).is_err());
        assert!(call("States.MathRandom", json!([1])).is_err());
    }
}
