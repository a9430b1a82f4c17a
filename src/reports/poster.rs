//! Printable invitation poster with a QR code.
//!
//! [`invitation_poster_png`] renders an A4 portrait page at 150 dpi
//! ([`WIDTH`]×[`HEIGHT`] = 1240×1754 px): a bold heading, the unit name, a
//! large QR code of the deep link (black modules on white with a four-module
//! quiet zone), three numbered instruction lines and, small at the bottom,
//! the link caption followed by the link itself. Text is word-wrapped to the
//! page width (words longer than a line, such as URLs, are broken by
//! character). The QR code is as large as the remaining space allows, up to
//! about 960 px (quiet zone included).
//!
//! All texts come from [`PosterText`]; only the instruction numbers
//! (`1.`, `2.`, `3.`) are added here.

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use qrcode::{Color as QrColor, QrCode};

use super::chart::{encode_png, ensure_fonts};

/// Page width in pixels (A4 at 150 dpi).
pub const WIDTH: u32 = 1240;
/// Page height in pixels (A4 at 150 dpi).
pub const HEIGHT: u32 = 1754;

/// Horizontal page margin in pixels.
const MARGIN: i32 = 90;
/// Largest QR code side in pixels, quiet zone included.
const QR_MAX: i32 = 960;
/// Quiet zone around the QR code, in modules.
const QUIET: i32 = 4;

const TEXT: RGBColor = RGBColor(20, 20, 20);
const ACCENT: RGBColor = RGBColor(0, 94, 184);
const MUTED: RGBColor = RGBColor(90, 90, 90);

/// Localised texts of the poster (already rendered by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct PosterText {
    /// Big heading at the top.
    pub heading: String,
    /// Name of the administrative unit the invitation is for.
    pub unit_name: String,
    /// Three instruction lines; they are numbered 1–3 on the poster.
    pub lines: [String; 3],
    /// Caption printed before the link at the bottom.
    pub link_caption: String,
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A block of wrapped text with one style.
struct Block {
    lines: Vec<String>,
    size: f64,
    bold: bool,
    color: RGBColor,
}

impl Block {
    fn line_height(&self) -> i32 {
        (self.size * 1.3).round() as i32
    }

    fn height(&self) -> i32 {
        self.line_height() * self.lines.len() as i32
    }
}

fn font(size: f64, bold: bool) -> FontDesc<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    ("sans-serif", size, style).into_font()
}

/// Width of `text` in pixels with the given font.
fn text_width(text: &str, f: &FontDesc<'_>) -> Result<i32> {
    let (w, _) = f
        .box_size(text)
        .map_err(|e| anyhow!("measuring text: {e}"))?;
    Ok(w as i32)
}

/// Greedy word wrap of `text` into lines at most `max_w` pixels wide; words
/// that alone are too wide are broken between characters.
fn wrap(text: &str, f: &FontDesc<'_>, max_w: i32) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut current = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if text_width(&candidate, f)? <= max_w {
                current = candidate;
                continue;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            // Break an overlong word by characters.
            for ch in word.chars() {
                let mut next = current.clone();
                next.push(ch);
                if !current.is_empty() && text_width(&next, f)? > max_w {
                    lines.push(std::mem::take(&mut current));
                    current.push(ch);
                } else {
                    current = next;
                }
            }
        }
        if !current.is_empty() {
            lines.push(current);
        }
    }
    Ok(lines)
}

fn block(text: &str, size: f64, bold: bool, color: RGBColor, max_w: i32) -> Result<Block> {
    Ok(Block {
        lines: wrap(text, &font(size, bold), max_w)?,
        size,
        bold,
        color,
    })
}

/// Draws `block` with its lines starting at `y` (top); `x` is the left edge,
/// or the centre when `centered`. Returns the y below the block.
fn draw_block(area: &Area<'_>, b: &Block, x: i32, y: i32, centered: bool) -> Result<i32> {
    let hpos = if centered { HPos::Center } else { HPos::Left };
    let style = font(b.size, b.bold)
        .color(&b.color)
        .pos(Pos::new(hpos, VPos::Top));
    // The ab_glyph renderer puts the baseline half a font size below the
    // anchor; shift down so accents on capitals stay inside the line box.
    let shift = (b.size * 0.45).round() as i32;
    let mut y = y;
    for line in &b.lines {
        area.draw_text(line, &style, (x, y + shift))
            .map_err(|e| anyhow!("drawing text: {e}"))?;
        y += b.line_height();
    }
    Ok(y)
}

/// Paints the dark QR modules into the RGB buffer. `rect` is the top-left
/// corner of the code including its quiet zone and the module size in
/// pixels; the quiet zone is the white page itself.
fn paint_qr(buf: &mut [u8], colors: &[QrColor], modules: i32, rect: (i32, i32, i32)) {
    let (left, top, module_px) = rect;
    let (ox, oy) = (left + QUIET * module_px, top + QUIET * module_px);
    for (i, c) in colors.iter().enumerate() {
        if *c != QrColor::Dark {
            continue;
        }
        let (mx, my) = ((i as i32) % modules, (i as i32) / modules);
        for y in oy + my * module_px..oy + (my + 1) * module_px {
            for x in ox + mx * module_px..ox + (mx + 1) * module_px {
                if (0..WIDTH as i32).contains(&x) && (0..HEIGHT as i32).contains(&y) {
                    let at = ((y as usize) * WIDTH as usize + x as usize) * 3;
                    buf[at..at + 3].fill(0);
                }
            }
        }
    }
}

/// Renders the invitation poster for `deep_link` and returns PNG bytes of
/// exactly [`WIDTH`]×[`HEIGHT`] pixels.
pub fn invitation_poster_png(deep_link: &str, text: &PosterText) -> Result<Vec<u8>> {
    ensure_fonts()?;
    let code = QrCode::new(deep_link.as_bytes()).context("encoding the link as a QR code")?;
    let modules = code.width() as i32;
    let colors = code.to_colors();

    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    let qr_rect;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let page_w = WIDTH as i32;
        let text_w = page_w - 2 * MARGIN;
        let cx = page_w / 2;

        let heading = block(&text.heading, 64.0, true, ACCENT, text_w)?;
        let unit = block(&text.unit_name, 46.0, true, TEXT, text_w)?;
        let steps = text
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| block(&format!("{}. {l}", i + 1), 34.0, false, TEXT, text_w))
            .collect::<Result<Vec<_>>>()?;
        let link = block(
            &format!("{} {deep_link}", text.link_caption),
            20.0,
            false,
            MUTED,
            text_w,
        )?;

        let top = 60;
        let gap = 24;
        let bottom_pad = 50;
        let steps_h: i32 = steps.iter().map(|s| s.height() + 8).sum();
        let fixed = top
            + heading.height()
            + gap
            + unit.height()
            + gap
            + gap
            + steps_h
            + gap
            + link.height()
            + bottom_pad;
        let qr_room = (HEIGHT as i32 - fixed).min(QR_MAX).min(text_w);
        let module_px = (qr_room / (modules + 2 * QUIET)).max(1);
        let qr_side = module_px * (modules + 2 * QUIET);

        let mut y = top;
        y = draw_block(&root, &heading, cx, y, true)? + gap;
        y = draw_block(&root, &unit, cx, y, true)? + gap;

        // The QR code itself is painted into the buffer below, pixel-exact.
        qr_rect = (cx - qr_side / 2, y, module_px);
        y += qr_side + gap;

        for s in &steps {
            y = draw_block(&root, s, MARGIN, y, false)? + 8;
        }

        let link_y = (HEIGHT as i32 - bottom_pad - link.height()).max(y + gap);
        draw_block(&root, &link, cx, link_y, true)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    paint_qr(&mut buf, &colors, modules, qr_rect);
    encode_png(WIDTH, HEIGHT, buf)
}

#[cfg(test)]
mod tests {
    use super::super::chart::tests::png_dims;
    use super::*;

    fn text() -> PosterText {
        PosterText {
            heading: "Cùng cài Bluezone để bảo vệ cộng đồng".into(),
            unit_name: "Xã Mỹ Lộc, Huyện Cần Giuộc, Tỉnh Long An".into(),
            lines: [
                "Mở camera điện thoại và quét mã QR ở trên.".into(),
                "Bấm Bắt đầu trong cuộc trò chuyện với bot, rồi cài ứng dụng Bluezone từ cửa hàng ứng dụng.".into(),
                "Gửi ảnh chụp màn hình Bluezone đã bật để được ghi nhận.".into(),
            ],
            link_caption: "Hoặc mở liên kết:".into(),
        }
    }

    #[test]
    fn poster_is_a4_at_150_dpi() {
        let png = invitation_poster_png("https://t.me/bluezone_bot?start=u80001", &text()).unwrap();
        assert_eq!(png_dims(&png), (1240, 1754));
    }

    /// Bounding box (x0, y0, x1, y1) of pure-black pixels, i.e. the QR
    /// modules (all text is drawn in other colours).
    fn qr_bbox(png: &[u8]) -> (u32, u32, u32, u32) {
        let img = image::load_from_memory(png).unwrap().to_rgb8();
        let mut bb = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p.0 == [0, 0, 0] {
                bb = (bb.0.min(x), bb.1.min(y), bb.2.max(x), bb.3.max(y));
            }
        }
        bb
    }

    #[test]
    fn qr_code_is_large_and_square() {
        let png = invitation_poster_png("https://t.me/bluezone_bot?start=u80001", &text()).unwrap();
        let (x0, y0, x1, y1) = qr_bbox(&png);
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
        assert!(w >= 700, "QR only {w} px wide");
        assert_eq!(w, h);
        // Centred horizontally, with room for the quiet zone.
        assert!((x0 as i32 - (1240 - x1 as i32 - 1)).abs() <= 1);
        assert!(x0 >= 4 * 10);
    }

    #[test]
    fn different_links_differ() {
        let a = invitation_poster_png("https://t.me/bluezone_bot?start=u80001", &text()).unwrap();
        let b = invitation_poster_png("https://t.me/bluezone_bot?start=u80002", &text()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn long_link_and_text_still_fit() {
        let link = format!("https://zalo.me/s/bluezone?start={}", "x".repeat(600));
        let mut t = text();
        t.heading = "Cùng cài Bluezone ".repeat(8);
        let png = invitation_poster_png(&link, &t).unwrap();
        assert_eq!(png_dims(&png), (1240, 1754));
        let (x0, _, x1, _) = qr_bbox(&png);
        assert!(x1 - x0 + 1 >= 500, "QR only {} px wide", x1 - x0 + 1);
    }

    #[test]
    fn wrap_respects_width_and_keeps_words() {
        ensure_fonts().unwrap();
        let f = font(20.0, false);
        let s = "Thành phố Tân An Huyện Đức Hòa Xã Mỹ Lộc";
        let lines = wrap(s, &f, 150).unwrap();
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), s);
        for l in &lines {
            assert!(text_width(l, &f).unwrap() <= 150, "{l}");
        }
        let long = wrap(&"x".repeat(100), &f, 150).unwrap();
        assert!(long.len() > 1);
        assert_eq!(long.concat(), "x".repeat(100));
    }

    #[test]
    #[ignore = "writes a preview image to target/ for manual inspection"]
    fn write_preview() {
        let png = invitation_poster_png("https://t.me/bluezone_bot?start=u80001", &text()).unwrap();
        std::fs::write("target/poster.png", png).unwrap();
    }
}
