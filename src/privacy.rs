//! Masking of customers' personal data (seed 003: staff may not leak customer data).
//! Lists show `张**`; logs never carry names or phones at all.

/// Keep the first character of a name and mask the rest: `张三丰` → `张**`, `Li Lei` → `L*****`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Phone tails are shown as `**` + last two digits at most.
pub fn mask_phone_tail(tail: &str) -> String {
    let digits: Vec<char> = tail.chars().collect();
    if digits.len() <= 2 {
        return "*".repeat(digits.len().max(2));
    }
    let keep: String = digits[digits.len() - 2..].iter().collect();
    format!("{}{keep}", "*".repeat(digits.len() - 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names keep only their first character; one-character names still get a mask.
    #[test]
    fn masks_names() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("张"), "张*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Li Lei"), "L*****");
    }

    /// Phone tails show at most their last two digits.
    #[test]
    fn masks_phone_tails() {
        assert_eq!(mask_phone_tail("1234"), "**34");
        assert_eq!(mask_phone_tail("12"), "**");
    }
}
