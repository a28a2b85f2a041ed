//! Masking of customers' personal data (seed 003: staff may not leak customer data).
//! Lists show `张**`; logs never carry names or phones at all.

/// Keep the first character of a name behind a fixed mask: `张三丰` → `张**`, `Li Lei` → `L**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        // Always two stars: the mask must not tell how long the name is.
        Some(first) => format!("{first}**"),
    }
}

/// Phone tails are shown as `**` + last two digits at most.
pub fn mask_phone_tail(tail: &str) -> String {
    // Always two stars: the mask must not tell how many digits there were.
    let digits: Vec<char> = tail.chars().collect();
    if digits.len() <= 2 {
        return "**".to_string();
    }
    let keep: String = digits[digits.len() - 2..].iter().collect();
    format!("**{keep}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names keep only their first character, and every mask has the same length, so it
    /// tells nothing of the name's.
    #[test]
    fn masks_names() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("张三"), "张**");
        assert_eq!(mask_name("张"), "张**");
        assert_eq!(mask_name("欧阳娜娜"), "欧**");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Bartholomew Featherstonehaugh"), "B**");
    }

    /// Phone tails show at most their last two digits, behind a fixed-length mask.
    #[test]
    fn masks_phone_tails() {
        assert_eq!(mask_phone_tail("1234"), "**34");
        assert_eq!(mask_phone_tail("123456"), "**56");
        assert_eq!(mask_phone_tail("12"), "**");
    }
}
