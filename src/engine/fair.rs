//! Fair group commit: the inputs waiting for the engine, queued per source (a bench, an
//! operator, the sync edges, the print worker, …) and taken round-robin into each batch.
//! A bench whose batch-upload scanner dumps 400 scans at once shares every batch with the
//! other benches instead of filling it: another bench's scan waits at most for the batch
//! being written, never for the whole burst. Within one source the order is kept.

use std::collections::VecDeque;

use super::handle::Input;

/// Who sent an input, for fairness only (the engine decides nothing by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    Bench(String),
    Operator(String),
    /// The station's own workers, one queue each: an import's chunks never hold a probe.
    Worker(&'static str),
}

impl Input {
    pub(super) fn source(&self) -> Source {
        match self {
            Input::Scan { bench, .. } => Source::Bench(bench.clone()),
            Input::Command { badge, .. } => Source::Operator(badge.as_str().to_string()),
            Input::Auth { .. } => Source::Worker("auth"),
            Input::Ack { .. } => Source::Worker("ack"),
            Input::Feed { .. } => Source::Worker("feed"),
            Input::Import { .. } => Source::Worker("import"),
            Input::PrintJob { .. } => Source::Worker("print"),
            Input::Prune { .. } => Source::Worker("prune"),
            Input::Probe { .. } => Source::Worker("probe"),
            Input::Close => Source::Worker("close"),
        }
    }
}

/// The engine's waiting inputs, per source in order of each source's first input.
pub(super) struct FairQueue<T> {
    sources: VecDeque<(Source, VecDeque<T>)>,
    len: usize,
}

impl<T> FairQueue<T> {
    pub(super) fn new() -> Self {
        FairQueue {
            sources: VecDeque::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, source: Source, item: T) {
        self.len += 1;
        match self.sources.iter_mut().find(|(s, _)| *s == source) {
            Some((_, q)) => q.push_back(item),
            None => self.sources.push_back((source, VecDeque::from([item]))),
        }
    }

    /// Up to `max` inputs for one batch, at most `per_source` of any one source: one from
    /// each source in turn, round after round, so with `n` busy sources each gets at least
    /// `max / n` places, and a burst is cut into slices that keep every batch short. A
    /// source served in this batch goes behind the others for the next one.
    pub(super) fn take(&mut self, max: usize, per_source: usize, batch: &mut VecDeque<T>) {
        let (max, per_source) = (max.max(1), per_source.max(1));
        // Inputs each source has in this batch, and the sources whose slice is full.
        let mut counts: Vec<(Source, usize)> = Vec::new();
        let mut full: Vec<(Source, VecDeque<T>)> = Vec::new();
        while batch.len() < max {
            let Some((source, mut q)) = self.sources.pop_front() else {
                break;
            };
            let k = (counts.iter().position(|(s, _)| *s == source)).unwrap_or_else(|| {
                counts.push((source.clone(), 0));
                counts.len() - 1
            });
            if let Some(item) = q.pop_front() {
                batch.push_back(item);
                self.len -= 1;
                counts[k].1 += 1;
            }
            if q.is_empty() {
                continue;
            }
            if counts[k].1 >= per_source {
                // This source's slice is full: it waits for the next batch.
                full.push((source, q));
            } else {
                self.sources.push_back((source, q));
            }
        }
        // Sources whose slice filled go behind those still waiting their turn.
        self.sources.extend(full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(b: &str) -> Source {
        Source::Bench(b.to_string())
    }

    /// A burst of 400 at one bench and one scan at another: the other's scan is in the
    /// first batch taken after it arrived, and each source keeps its own order.
    #[test]
    fn a_burst_shares_the_batch_with_another_bench() {
        let mut q = FairQueue::new();
        for i in 0..400 {
            q.push(bench("a"), ("a", i));
        }
        q.push(bench("b"), ("b", 0));
        let mut batch = VecDeque::new();
        q.take(64, 64, &mut batch);
        assert_eq!(batch.len(), 64);
        assert!(
            batch.contains(&("b", 0)),
            "bench b's scan rides the first batch"
        );
        let a: Vec<i32> = batch.iter().filter(|x| x.0 == "a").map(|x| x.1).collect();
        assert_eq!(
            a,
            (0..63).collect::<Vec<_>>(),
            "bench a's scans in their order"
        );
        assert_eq!(q.len(), 400 + 1 - 64);
    }

    /// Two bursts interleave: every batch holds half of each while both have work, and
    /// nothing is lost or duplicated.
    #[test]
    fn two_bursts_interleave_and_nothing_is_lost() {
        let mut q = FairQueue::new();
        for i in 0..400 {
            q.push(bench("a"), ("a", i));
            q.push(bench("b"), ("b", i));
        }
        q.push(Source::Worker("probe"), ("p", 0));
        let mut seen = Vec::new();
        let mut first = true;
        while !q.is_empty() {
            let mut batch = VecDeque::new();
            q.take(100, 100, &mut batch);
            assert!(batch.len() <= 100);
            if first {
                assert!(batch.contains(&("p", 0)), "the probe is not held by bursts");
                first = false;
            }
            let a = batch.iter().filter(|x| x.0 == "a").count();
            let b = batch.iter().filter(|x| x.0 == "b").count();
            assert!(a.abs_diff(b) <= 1, "batch shared: {a} vs {b}");
            seen.extend(batch);
        }
        for src in ["a", "b"] {
            let got: Vec<i32> = seen.iter().filter(|x| x.0 == src).map(|x| x.1).collect();
            assert_eq!(
                got,
                (0..400).collect::<Vec<_>>(),
                "{src} in order, once each"
            );
        }
        assert_eq!(seen.len(), 801);
    }

    /// A source's slice of a batch is capped: a burst alone goes in slices of
    /// `per_source`, and beside it another bench's scan finds a short batch; a capped
    /// source waits behind the others for the next batch.
    #[test]
    fn a_burst_goes_in_slices() {
        let mut q = FairQueue::new();
        for i in 0..100 {
            q.push(bench("a"), ("a", i));
        }
        let mut batch = VecDeque::new();
        q.take(512, 32, &mut batch);
        assert_eq!(batch.len(), 32, "one slice of the burst");
        q.push(bench("b"), ("b", 0));
        q.push(Source::Worker("probe"), ("p", 0));
        let mut batch = VecDeque::new();
        q.take(512, 32, &mut batch);
        assert_eq!(batch.len(), 34, "a slice of a, b's scan and the probe");
        assert!(batch.contains(&("b", 0)) && batch.contains(&("p", 0)));
        let a: Vec<i32> = batch.iter().filter(|x| x.0 == "a").map(|x| x.1).collect();
        assert_eq!(a, (32..64).collect::<Vec<_>>(), "in order");
        assert_eq!(q.len(), 100 - 64);
    }

    /// A single source takes whole batches, as plain group commit did.
    #[test]
    fn one_source_fills_the_batch() {
        let mut q = FairQueue::new();
        for i in 0..10 {
            q.push(bench("a"), i);
        }
        let mut batch = VecDeque::new();
        q.take(8, 8, &mut batch);
        assert_eq!(Vec::from(batch), (0..8).collect::<Vec<_>>());
        let mut batch = VecDeque::new();
        q.take(8, 8, &mut batch);
        assert_eq!(Vec::from(batch), vec![8, 9]);
        assert!(q.is_empty());
    }
}
