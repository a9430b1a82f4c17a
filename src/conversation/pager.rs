//! Paged lists (`/coverage`'s children, `/members`, the unit browser): which page is shown and
//! the navigation row under it.

use super::{Action, Button};
use crate::i18n::Msg;

/// One page of a list of `len` items, `per_page` at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pager {
    /// The page shown, from 0; a page past the end (the list shrank) shows the last one.
    pub page: usize,
    /// How many pages there are; an empty list has one, empty, page.
    pub pages: usize,
    /// Items per page.
    per_page: usize,
}

impl Pager {
    /// The page `asked` of a list of `len` items.
    pub fn new(len: usize, per_page: usize, asked: u32) -> Pager {
        let pages = len.div_ceil(per_page).max(1);
        Pager {
            page: (asked as usize).min(pages - 1),
            pages,
            per_page,
        }
    }

    /// How many items come before this page.
    pub fn offset(&self) -> usize {
        self.page * self.per_page
    }

    /// The navigation row: `back` on every page but the first, `more` on every page but the
    /// last, each pressing `to(page)`. Empty when there is one page.
    pub fn nav(&self, back: Msg, more: Msg, to: impl Fn(u32) -> Action) -> Vec<Button> {
        let mut row = Vec::new();
        if self.page > 0 {
            row.push(Button::action(back, to(self.page as u32 - 1)));
        }
        if self.page + 1 < self.pages {
            row.push(Button::action(more, to(self.page as u32 + 1)));
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::Pager;
    use crate::conversation::keys::{BTN_BACK_PAGE, BTN_MORE};
    use crate::conversation::{Action, ButtonAction};
    use crate::i18n::Msg;

    fn pages_pressed(p: &Pager) -> Vec<u32> {
        p.nav(Msg::new(&BTN_BACK_PAGE), Msg::new(&BTN_MORE), |page| {
            Action::Browse(None, page)
        })
        .into_iter()
        .map(|b| match b.action {
            ButtonAction::Callback(Action::Browse(None, page)) => page,
            other => panic!("unexpected button {other:?}"),
        })
        .collect()
    }

    #[test]
    fn pages_clamp_and_offer_their_neighbours() {
        let empty = Pager::new(0, 10, 3);
        assert_eq!((empty.page, empty.pages, empty.offset()), (0, 1, 0));
        assert!(pages_pressed(&empty).is_empty());

        let first = Pager::new(25, 10, 0);
        assert_eq!((first.page, first.pages), (0, 3));
        assert_eq!(pages_pressed(&first), [1]);

        let middle = Pager::new(25, 10, 1);
        assert_eq!(middle.offset(), 10);
        assert_eq!(pages_pressed(&middle), [0, 2]);

        // A page past the end (the list shrank) shows the last one.
        let past = Pager::new(25, 10, 9);
        assert_eq!((past.page, past.offset()), (2, 20));
        assert_eq!(pages_pressed(&past), [1]);
    }
}
