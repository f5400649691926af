//! PostgreSQL parameters bound by the type the server inferred for each: a value (text
//! from an alert label, untrusted) becomes the integer, float, numeric, bool, uuid, date
//! or timestamp the statement expects, or a clear error before anything runs.

use std::str::FromStr;

use sqlx::postgres::{PgArguments, PgTypeInfo};
use sqlx::types::BigDecimal;
use sqlx::{Arguments, TypeInfo};

/// The most digits a NUMERIC value may have here (far more than any id or amount).
const MAX_NUMERIC_DIGITS: usize = 1000;

/// The arguments for `values`, each converted to its parameter's inferred type (text for
/// a type not converted here, as before). Err: which parameter (and the placeholder in
/// `names`), what it expects and why; never the value, which may be a secret.
pub(super) fn arguments(
    types: &[PgTypeInfo],
    values: &[String],
    names: &[String],
) -> Result<PgArguments, String> {
    let mut args = PgArguments::default();
    for (i, value) in values.iter().enumerate() {
        let ty = types.get(i).map_or("TEXT", |t| t.name());
        add(&mut args, ty, value).map_err(|why| {
            let from = names.get(i).map_or(String::new(), |n| format!(" (<{n}>)"));
            format!(
                "parameter ${}{from} expects {}: its value {why}; nothing was run",
                i + 1,
                ty.to_ascii_lowercase(),
            )
        })?;
    }
    Ok(args)
}

/// Adds one value as `ty` (a PostgreSQL type name as sqlx spells it).
fn add(args: &mut PgArguments, ty: &str, v: &str) -> Result<(), &'static str> {
    let added = match ty {
        "INT2" => args.add(
            v.parse::<i16>()
                .map_err(|_| "is not a whole number in range")?,
        ),
        "INT4" => args.add(
            v.parse::<i32>()
                .map_err(|_| "is not a whole number in range")?,
        ),
        "INT8" => args.add(
            v.parse::<i64>()
                .map_err(|_| "is not a whole number in range")?,
        ),
        "FLOAT4" => args.add(v.parse::<f32>().map_err(|_| "is not a number")?),
        "FLOAT8" => args.add(v.parse::<f64>().map_err(|_| "is not a number")?),
        "NUMERIC" => args.add(numeric(v).ok_or("is not a decimal number")?),
        "BOOL" => args.add(boolean(v).ok_or("is not true or false")?),
        "UUID" => args.add(uuid::Uuid::parse_str(v).map_err(|_| "is not a UUID")?),
        "TIMESTAMPTZ" => args.add(timestamptz(v).ok_or("is not an RFC 3339 timestamp")?),
        "TIMESTAMP" => args.add(timestamp(v).ok_or("is not an ISO 8601 timestamp")?),
        "DATE" => args.add(date(v).ok_or("is not an ISO 8601 date (YYYY-MM-DD)")?),
        _ => args.add(v.to_owned()),
    };
    added.map_err(|_| "could not be encoded")
}

/// PostgreSQL's spellings of a boolean (any case).
fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `2026-12-07T13:44:27Z`, with any offset (or a space for the `T`).
fn timestamptz(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `2026-12-07T13:44:27` (or a space for the `T`, optional fractions); an RFC 3339 value
/// with an offset is taken at UTC.
fn timestamp(v: &str) -> Option<chrono::NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| timestamptz(v).map(|t| t.naive_utc()))
}

/// `2026-12-07`.
fn date(v: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
}

/// A NUMERIC value: `[+-]digits[.digits]` (at least one digit, at most
/// [`MAX_NUMERIC_DIGITS`]), checked before `BigDecimal` parses it: no exponent, so a
/// short hostile value such as `1e999999999` cannot make the encoder expand it into
/// millions of digit groups.
fn numeric(v: &str) -> Option<BigDecimal> {
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let count = int.len() + frac.len();
    if count == 0 || count > MAX_NUMERIC_DIGITS || !digits(int) || !digits(frac) {
        return None;
    }
    BigDecimal::from_str(v).ok()
}

#[cfg(test)]
mod tests {
    use super::numeric;

    #[test]
    fn numeric_values_are_plain_decimals() {
        for (text, shown) in [
            ("123.4500", "123.4500"),
            ("-10000", "-10000"),
            ("0.00001234", "0.00001234"),
            ("+12345.6", "12345.6"),
            (".5", "0.5"),
        ] {
            assert_eq!(numeric(text).map(|n| n.to_string()).as_deref(), Some(shown));
        }
        for bad in [
            "",
            "-",
            ".",
            "1e3",
            "1e999999999",
            "1.2.3",
            "1 OR 1=1",
            "NaN",
            "١٢",
        ] {
            assert_eq!(numeric(bad), None, "{bad}");
        }
        assert_eq!(numeric(&"9".repeat(1001)), None);
    }
}
