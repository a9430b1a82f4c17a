//! Search folding: case and Vietnamese diacritics are ignored, so "tan an", "Tân An" and
//! "TÂN AN" all fold to "tan an".

use unicode_normalization::UnicodeNormalization;

/// Folds `text` for searching: decomposes it (NFD), drops the combining marks, maps đ/Đ to d,
/// lowercases and collapses runs of white space into one space.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        for lower in c.to_lowercase() {
            out.push(lower);
        }
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_and_diacritics_are_ignored() {
        assert_eq!(fold("tan an"), "tan an");
        assert_eq!(fold("Tân An"), "tan an");
        assert_eq!(fold("TÂN AN"), "tan an");
        assert_eq!(fold("  Huyện   Đức Hòa "), "huyen duc hoa");
        assert_eq!(fold("Xã Mỹ Lộc"), "xa my loc");
    }

    #[test]
    fn precomposed_and_decomposed_input_fold_alike() {
        let decomposed: String = unicode_normalization::UnicodeNormalization::nfd("Hoà").collect();
        assert_eq!(fold(&decomposed), fold("Hòa"));
    }
}
