//! Ranking order: sort scores best first and give equal scores the same rank ("1, 2, 2, 4").

use crate::protocol::Entry;

/// Ranks `(name, score)` pairs: highest score first, equal scores share a rank and the next
/// rank skips as many places (standard competition ranking). Ties keep the order they came in,
/// so that a script decides who is listed first among equals.
pub fn rank(scores: Vec<(String, i64)>) -> Vec<Entry> {
    rank_by(scores, Order::Descending)
}

/// Which scores are best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The highest (points).
    Descending,
    /// The lowest (a time, strokes, moves taken).
    Ascending,
}

/// [`rank`], best first in `order`.
pub fn rank_by(scores: Vec<(String, i64)>, order: Order) -> Vec<Entry> {
    let mut scores = scores;
    // A stable sort keeps the order of equal scores.
    match order {
        Order::Descending => scores.sort_by_key(|(_, score)| std::cmp::Reverse(*score)),
        Order::Ascending => scores.sort_by_key(|(_, score)| *score),
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(scores.len());
    for (place, (name, score)) in scores.into_iter().enumerate() {
        let rank = match entries.last() {
            Some(previous) if previous.score == score => previous.rank,
            _ => place as u32 + 1,
        };
        entries.push(Entry { rank, name, score });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranks(scores: &[(&str, i64)]) -> Vec<(u32, String, i64)> {
        rank(scores.iter().map(|(n, s)| (n.to_string(), *s)).collect())
            .into_iter()
            .map(|e| (e.rank, e.name, e.score))
            .collect()
    }

    #[test]
    fn best_first_and_ties_share_a_rank() {
        assert_eq!(
            ranks(&[("carol", 5), ("alice", 12), ("bob", 12), ("dave", -1)]),
            vec![
                (1, "alice".into(), 12),
                (1, "bob".into(), 12),
                (3, "carol".into(), 5),
                (4, "dave".into(), -1)
            ]
        );
    }

    #[test]
    fn ascending_puts_the_lowest_first() {
        let ranked = rank_by(
            vec![
                ("slow".into(), 30),
                ("fast".into(), 12),
                ("tied".into(), 12),
            ],
            Order::Ascending,
        );
        let ranked: Vec<(u32, &str)> = ranked.iter().map(|e| (e.rank, e.name.as_str())).collect();
        assert_eq!(ranked, vec![(1, "fast"), (1, "tied"), (3, "slow")]);
    }

    #[test]
    fn empty_and_single() {
        assert!(rank(vec![]).is_empty());
        assert_eq!(ranks(&[("solo", 0)]), vec![(1, "solo".into(), 0)]);
    }

    #[test]
    fn all_equal_all_first() {
        let all = ranks(&[("a", 3), ("b", 3), ("c", 3)]);
        assert!(all.iter().all(|(rank, _, _)| *rank == 1));
        assert_eq!(all[0].1, "a");
    }
}
