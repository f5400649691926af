//! PostgreSQL parameters bound by the type the server inferred for each: a value (text
//! from an alert label, untrusted) becomes the integer, float, numeric, bool, uuid, date
//! or timestamp the statement expects, or a clear error before anything runs.

use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgTypeInfo};
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
        "NUMERIC" => args.add(Numeric::parse(v).ok_or("is not a decimal number")?),
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

/// A NUMERIC value in PostgreSQL's binary form (sqlx binds every parameter binary, and
/// this crate has no decimal type): base-10000 digit groups, the weight of the first,
/// the sign and the count of decimal digits after the point.
#[derive(Debug, PartialEq, Eq)]
struct Numeric {
    negative: bool,
    weight: i16,
    scale: u16,
    groups: Vec<i16>,
}

impl Numeric {
    /// `[+-]digits[.digits]` (at least one digit, at most [`MAX_NUMERIC_DIGITS`]).
    fn parse(v: &str) -> Option<Self> {
        let (negative, body) = match v.as_bytes().first()? {
            b'-' => (true, &v[1..]),
            b'+' => (false, &v[1..]),
            _ => (false, v),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.len() + frac.len() == 0 || int.len() + frac.len() > MAX_NUMERIC_DIGITS {
            return None;
        }
        if !digits(int) || !digits(frac) {
            return None;
        }
        let int = int.trim_start_matches('0');
        // Whole groups of four: zeros before the integer part and after the fraction.
        let int_pad = "0".repeat((4 - int.len() % 4) % 4);
        let frac_pad = "0".repeat((4 - frac.len() % 4) % 4);
        let padded = format!("{int_pad}{int}{frac}{frac_pad}");
        let mut groups: Vec<i16> = padded
            .as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |n, d| n * 10 + i16::from(d - b'0')))
            .collect();
        let mut weight = i16::try_from(int.len().div_ceil(4)).ok()? - 1;
        let lead = groups.iter().take_while(|g| **g == 0).count();
        groups.drain(..lead);
        weight -= i16::try_from(lead).ok()?;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        let zero = groups.is_empty();
        Some(Self {
            negative: negative && !zero,
            weight: if zero { 0 } else { weight },
            scale: u16::try_from(frac.len()).ok()?,
            groups,
        })
    }
}

impl sqlx::Type<sqlx::Postgres> for Numeric {
    fn type_info() -> PgTypeInfo {
        // NUMERIC's fixed OID (pg_type.dat), so no lookup by name is needed.
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1700))
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Numeric {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let count = i16::try_from(self.groups.len())?;
        buf.extend_from_slice(&count.to_be_bytes());
        buf.extend_from_slice(&self.weight.to_be_bytes());
        let sign: u16 = if self.negative { 0x4000 } else { 0 };
        buf.extend_from_slice(&sign.to_be_bytes());
        buf.extend_from_slice(&self.scale.to_be_bytes());
        for g in &self.groups {
            buf.extend_from_slice(&g.to_be_bytes());
        }
        Ok(sqlx::encode::IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::Numeric;

    fn n(negative: bool, weight: i16, scale: u16, groups: &[i16]) -> Option<Numeric> {
        Some(Numeric {
            negative,
            weight,
            scale,
            groups: groups.to_vec(),
        })
    }

    #[test]
    fn numeric_values_become_base_10000_groups() {
        assert_eq!(Numeric::parse("123.4500"), n(false, 0, 4, &[123, 4500]));
        assert_eq!(Numeric::parse("-10000"), n(true, 1, 0, &[1]));
        assert_eq!(Numeric::parse("0.00001234"), n(false, -2, 8, &[1234]));
        assert_eq!(Numeric::parse("-0.0"), n(false, 0, 1, &[]));
        assert_eq!(Numeric::parse("+12345.6"), n(false, 1, 1, &[1, 2345, 6000]));
        assert_eq!(Numeric::parse(".5"), n(false, -1, 1, &[5000]));
        for bad in ["", "-", ".", "1e3", "1.2.3", "1 OR 1=1", "NaN", "١٢"] {
            assert_eq!(Numeric::parse(bad), None, "{bad}");
        }
        assert_eq!(Numeric::parse(&"9".repeat(1001)), None);
    }
}
