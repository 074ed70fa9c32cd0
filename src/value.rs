//! Integers on the command line and their wire bits.
//!
//! A value is written as a decimal integer (a negative one is two's complement in the group's
//! width), `0x…` hexadecimal or `0b…` binary, most significant digit first as usual. The bit order
//! says how the integer's bits map onto the group's wires: with [`BitOrder::Lsb0`] wire `k`
//! carries bit `k` (bit 0 the least significant); with [`BitOrder::Msb0`] wire `k` carries bit
//! `n-1-k`. Outputs print as `0x` followed by exactly `ceil(n/4)` lowercase hex digits under the
//! same rule.

use std::fmt;

use crate::error::{Error, Result};

/// How an integer's bits map onto a group's wires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BitOrder {
    /// Wire `k` carries bit `k` of the integer (bit 0 = least significant). The default.
    #[default]
    Lsb0,
    /// Wire `k` carries bit `n-1-k`: wire 0 is the most significant bit.
    Msb0,
}

impl std::str::FromStr for BitOrder {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lsb0" => Ok(BitOrder::Lsb0),
            "msb0" => Ok(BitOrder::Msb0),
            other => Err(Error::arg(format!(
                "unknown bit order '{other}': expected lsb0 or msb0"
            ))),
        }
    }
}

impl fmt::Display for BitOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BitOrder::Lsb0 => "lsb0",
            BitOrder::Msb0 => "msb0",
        })
    }
}

/// Parses `text` as an integer for a group of `width` wires and returns the wire bits.
pub fn parse_value(text: &str, width: u32, order: BitOrder) -> Result<Vec<bool>> {
    let bits = parse_integer_bits(text, width)?;
    Ok(reorder(bits, order))
}

/// Formats a group's wire bits as `0x` + `ceil(n/4)` lowercase hex digits.
pub fn format_value(wire_bits: &[bool], order: BitOrder) -> String {
    let bits = reorder(wire_bits.to_vec(), order);
    let digits = bits.len().div_ceil(4);
    let mut s = String::with_capacity(2 + digits);
    s.push_str("0x");
    for d in (0..digits).rev() {
        let mut nibble = 0u32;
        for b in 0..4 {
            if bits.get(4 * d + b).copied().unwrap_or(false) {
                nibble |= 1 << b;
            }
        }
        s.push(char::from_digit(nibble, 16).expect("a nibble is a hex digit"));
    }
    s
}

/// How outputs are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// `0x` + exactly `ceil(n/4)` lowercase hex digits (the default).
    #[default]
    Hex,
    /// Unsigned decimal.
    Dec,
    /// Signed decimal: two's complement in the group's width.
    Signed,
    /// `0b` + exactly `n` binary digits, most significant first.
    Bin,
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hex" => Ok(OutputFormat::Hex),
            "dec" => Ok(OutputFormat::Dec),
            "signed" => Ok(OutputFormat::Signed),
            "bin" => Ok(OutputFormat::Bin),
            other => Err(Error::arg(format!(
                "unknown output format '{other}': expected hex, dec, signed or bin"
            ))),
        }
    }
}

/// Formats a group's wire bits in `format`.
pub fn format_value_as(wire_bits: &[bool], order: BitOrder, format: OutputFormat) -> String {
    let bits = reorder(wire_bits.to_vec(), order);
    match format {
        OutputFormat::Hex => format_value(wire_bits, order),
        OutputFormat::Bin => {
            let mut s = String::with_capacity(2 + bits.len());
            s.push_str("0b");
            s.extend(bits.iter().rev().map(|&b| if b { '1' } else { '0' }));
            s
        }
        OutputFormat::Dec => decimal(&bits),
        OutputFormat::Signed => {
            if bits.last() == Some(&true) {
                // Negative: the magnitude is the two's complement.
                let mut magnitude = bits.clone();
                let mut carry = true;
                for b in magnitude.iter_mut() {
                    let v = !*b;
                    *b = v ^ carry;
                    carry &= v;
                }
                format!("-{}", decimal(&magnitude))
            } else {
                decimal(&bits)
            }
        }
    }
}

/// Unsigned decimal of bits (bit `k` = 2^k), any width.
fn decimal(bits: &[bool]) -> String {
    let mut limbs: Vec<u64> = bits
        .chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |v, (i, &b)| v | (u64::from(b) << i))
        })
        .collect();
    const CHUNK: u64 = 10_000_000_000_000_000_000;
    let mut parts = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut remainder = 0u128;
        for limb in limbs.iter_mut().rev() {
            let v = (remainder << 64) | u128::from(*limb);
            *limb = (v / u128::from(CHUNK)) as u64;
            remainder = v % u128::from(CHUNK);
        }
        parts.push(remainder as u64);
    }
    match parts.split_last() {
        None => "0".to_string(),
        Some((top, rest)) => {
            let mut s = top.to_string();
            for part in rest.iter().rev() {
                s.push_str(&format!("{part:019}"));
            }
            s
        }
    }
}

/// [`parse_integer_bits`] for a signed group: a decimal must lie in `[-2^(n-1), 2^(n-1))` (hex
/// and binary are bit patterns of at most `n` bits, as for unsigned groups).
pub fn parse_signed_integer_bits(text: &str, width: u32) -> Result<Vec<bool>> {
    let trimmed = text.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let decimal = !(body.starts_with("0x")
        || body.starts_with("0X")
        || body.starts_with("0b")
        || body.starts_with("0B")
        || body.starts_with('-'));
    if decimal && width >= 1 {
        let out_of_range = || {
            Error::arg(format!(
                "value {} is outside the signed {width}-bit range [-2^{}, 2^{} - 1]",
                shorten(text),
                width - 1,
                width - 1
            ))
        };
        let magnitude = parse_integer_bits(text, width).map_err(|_| out_of_range())?;
        if magnitude.last() == Some(&true) {
            return Err(out_of_range());
        }
        return Ok(magnitude);
    }
    parse_integer_bits(text, width)
}

/// The integer bits (bit `k` = 2^k) as wire bits, or back: the map is its own inverse.
fn reorder(mut bits: Vec<bool>, order: BitOrder) -> Vec<bool> {
    if order == BitOrder::Msb0 {
        bits.reverse();
    }
    bits
}

/// Parses an integer into exactly `width` bits, bit `k` = 2^k, two's complement if negative.
pub fn parse_integer_bits(text: &str, width: u32) -> Result<Vec<bool>> {
    let bad = |why: &str| Error::arg(format!("invalid value '{}': {why}", shorten(text)));
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16u32, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else {
            (10, body)
        };
    if digits.is_empty() {
        return Err(bad("expected a decimal integer, 0x… hex or 0b… binary"));
    }
    // Little-endian 64-bit limbs; wide enough for `width` bits plus one so overflow is visible.
    let limbs_needed = (width as usize + 1).div_ceil(64).max(1);
    let mut limbs = vec![0u64; limbs_needed];
    let fits = |limbs: &[u64]| bit_length(limbs) <= width as usize;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or_else(|| {
            bad(&match radix {
                16 => format!("'{c}' is not a hex digit"),
                2 => format!("'{c}' is not a binary digit"),
                _ => format!("'{c}' is not a decimal digit (use 0x for hex, 0b for binary)"),
            })
        })?;
        let mut carry = u128::from(d);
        for limb in limbs.iter_mut() {
            let v = u128::from(*limb) * u128::from(radix) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry != 0 || !fits(&limbs) {
            return Err(too_wide(text, width, negative));
        }
    }
    let mut bits: Vec<bool> = (0..width as usize)
        .map(|k| limbs[k / 64] >> (k % 64) & 1 == 1)
        .collect();
    if negative && bits.iter().any(|&b| b) {
        // Magnitude must be at most 2^(width-1): the signed range of the group.
        let magnitude_len = bit_length(&limbs);
        let is_power_of_two = limbs.iter().map(|l| l.count_ones()).sum::<u32>() == 1;
        if width == 0 || magnitude_len > width as usize - 1 + usize::from(is_power_of_two) {
            return Err(too_wide(text, width, true));
        }
        // Two's complement: invert and add one.
        let mut carry = true;
        for b in bits.iter_mut() {
            let v = !*b;
            *b = v ^ carry;
            carry &= v;
        }
    }
    Ok(bits)
}

fn bit_length(limbs: &[u64]) -> usize {
    for (i, &l) in limbs.iter().enumerate().rev() {
        if l != 0 {
            return 64 * i + 64 - l.leading_zeros() as usize;
        }
    }
    0
}

fn too_wide(text: &str, width: u32, negative: bool) -> Error {
    if negative {
        Error::arg(format!(
            "value {} does not fit in {width} bits (negative values are two's complement: \
             at least -2^{})",
            shorten(text),
            width.saturating_sub(1)
        ))
    } else {
        Error::arg(format!(
            "value {} does not fit in {width} bits",
            shorten(text)
        ))
    }
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(48).collect();
    if text.chars().count() > 48 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_formats() {
        let bits = parse_integer_bits("-5", 8).unwrap();
        assert_eq!(
            format_value_as(&bits, BitOrder::Lsb0, OutputFormat::Hex),
            "0xfb"
        );
        assert_eq!(
            format_value_as(&bits, BitOrder::Lsb0, OutputFormat::Dec),
            "251"
        );
        assert_eq!(
            format_value_as(&bits, BitOrder::Lsb0, OutputFormat::Signed),
            "-5"
        );
        assert_eq!(
            format_value_as(&bits, BitOrder::Lsb0, OutputFormat::Bin),
            "0b11111011"
        );
        let wide = parse_integer_bits("340282366920938463463374607431768211455", 128).unwrap();
        assert_eq!(
            format_value_as(&wide, BitOrder::Lsb0, OutputFormat::Dec),
            "340282366920938463463374607431768211455"
        );
        assert_eq!(
            format_value_as(&wide, BitOrder::Lsb0, OutputFormat::Signed),
            "-1"
        );
        let min = parse_integer_bits("-128", 8).unwrap();
        assert_eq!(
            format_value_as(&min, BitOrder::Lsb0, OutputFormat::Signed),
            "-128"
        );
        assert_eq!(
            format_value_as(&[false; 3], BitOrder::Lsb0, OutputFormat::Dec),
            "0"
        );
        assert_eq!(
            format_value_as(&[true, false, false], BitOrder::Msb0, OutputFormat::Bin),
            "0b100"
        );
    }

    #[test]
    fn signed_decimals_stay_in_range() {
        assert!(parse_signed_integer_bits("127", 8).is_ok());
        assert!(parse_signed_integer_bits("128", 8).is_err());
        assert!(parse_signed_integer_bits("200", 8).is_err());
        assert!(parse_signed_integer_bits("-128", 8).is_ok());
        assert!(parse_signed_integer_bits("-129", 8).is_err());
        assert!(parse_signed_integer_bits("0xff", 8).is_ok());
        assert!(parse_signed_integer_bits("9223372036854775808", 64).is_err());
        assert!(parse_signed_integer_bits("9223372036854775807", 64).is_ok());
        let e = parse_signed_integer_bits("200", 8).unwrap_err().to_string();
        assert!(e.contains("[-2^7, 2^7 - 1]"), "{e}");
    }

    fn int(text: &str, width: u32) -> Result<u128> {
        let bits = parse_integer_bits(text, width)?;
        Ok(bits
            .iter()
            .enumerate()
            .map(|(k, &b)| u128::from(b) << k)
            .sum())
    }

    #[test]
    fn radixes_and_signs() {
        assert_eq!(int("255", 8).unwrap(), 255);
        assert_eq!(int("0xff", 8).unwrap(), 255);
        assert_eq!(int("0x00ff", 8).unwrap(), 255);
        assert_eq!(int("0b101", 3).unwrap(), 5);
        assert_eq!(int("-1", 8).unwrap(), 255);
        assert_eq!(int("-128", 8).unwrap(), 128);
        assert_eq!(int("0", 1).unwrap(), 0);
        assert_eq!(int("-0", 4).unwrap(), 0);
    }

    #[test]
    fn out_of_range_is_an_error() {
        assert!(int("256", 8).is_err());
        assert!(int("0x100", 8).is_err());
        assert!(int("-129", 8).is_err());
        assert!(int("2", 1).is_err());
        assert!(int("-2", 1).is_err());
        assert!(int("12a", 8).is_err());
        assert!(int("0x", 8).is_err());
        assert!(int("", 8).is_err());
        assert!(int("0b102", 8).is_err());
    }

    #[test]
    fn wide_values() {
        let bits = parse_integer_bits("0x2b7e151628aed2a6abf7158809cf4f3c", 128).unwrap();
        assert_eq!(
            format_value(&bits, BitOrder::Lsb0),
            "0x2b7e151628aed2a6abf7158809cf4f3c"
        );
        let max = "340282366920938463463374607431768211455"; // 2^128 - 1
        assert!(parse_integer_bits(max, 128).unwrap().iter().all(|&b| b));
        assert!(parse_integer_bits("340282366920938463463374607431768211456", 128).is_err());
    }

    #[test]
    fn bit_orders_and_formatting() {
        let lsb = parse_value("0x1", 5, BitOrder::Lsb0).unwrap();
        assert_eq!(lsb, vec![true, false, false, false, false]);
        let msb = parse_value("0x1", 5, BitOrder::Msb0).unwrap();
        assert_eq!(msb, vec![false, false, false, false, true]);
        assert_eq!(format_value(&lsb, BitOrder::Lsb0), "0x01");
        assert_eq!(format_value(&msb, BitOrder::Msb0), "0x01");
        assert_eq!(format_value(&[true], BitOrder::Lsb0), "0x1");
    }
}
