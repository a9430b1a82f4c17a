pub mod chart;
pub mod export;
pub mod poster;
