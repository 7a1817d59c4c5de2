//! Splitting the tiles of a [`TilePlan`] among N independent jobs (cluster array tasks), balanced
//! by cost, each tile in exactly one shard.
//!
//! Cost model: a tile costs its number of computed entries, c = |rows|·|cols|, and a diagonal
//! tile of a self kernel c = s(s+1)/2 (its symmetric blocks are computed once). Every entry of a
//! fully-connected or convolutional kernel runs the same per-pair recursion, so entry counts are
//! proportional to work; see `docs/cluster.md` for the per-pair costs measured on this machine.
//!
//! The split is the longest-processing-time-first rule ([`lpt_partition`]): tiles in decreasing
//! cost (ties by tile index), each to the currently least-loaded shard (ties to the lowest shard
//! index). It depends only on (plan, N), so every shard computes the same split on its own. With
//! m tiles of roughly equal cost the imbalance max/mean is at most about 1 + N/m, so
//! [`shard_tile_side`] shrinks the tile side until every shard has at least
//! [`MIN_TILES_PER_SHARD`] tiles.
//!
//! # Reference
//! R. L. Graham, "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math. 17 (1969):
//! LPT's makespan is at most (4/3 − 1/(3N)) times the optimum.

use crate::tiled::{TILE_ALIGN, TilePlan, TileRange};
use crate::{Error, Result};

/// The smallest number of tiles per shard that [`shard_tile_side`] aims for (imbalance ≲ 1/16).
pub const MIN_TILES_PER_SHARD: usize = 16;

/// The longest-processing-time-first partition of items with `costs` into `count` groups: the
/// item indices of each group, each group in increasing order. Deterministic (total orders on
/// costs and indices); `count = 0` is treated as 1.
pub fn lpt_partition(costs: &[f64], count: usize) -> Vec<Vec<usize>> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0_f64; count];
    let mut groups = vec![Vec::new(); count];
    for item in order {
        let mut target = 0;
        for (shard, value) in load.iter().enumerate() {
            if value.total_cmp(&load[target]).is_lt() {
                target = shard;
            }
        }
        load[target] += costs[item];
        groups[target].push(item);
    }
    for group in &mut groups {
        group.sort_unstable();
    }
    groups
}

/// The cost (computed entries) of one tile of `plan`.
pub fn tile_cost(plan: &TilePlan, tile: &TileRange) -> f64 {
    if plan.symmetric() && tile.is_diagonal() {
        let s = tile.rows.len() as f64;
        s * (s + 1.0) / 2.0
    } else {
        tile.entries() as f64
    }
}

/// The tiles of `plan` for each of `count` shards (each in the plan's order).
///
/// # Errors
/// `count` zero.
pub fn shard_tiles(plan: &TilePlan, count: usize) -> Result<Vec<Vec<TileRange>>> {
    if count == 0 {
        return Err(Error::InvalidParameter {
            arg: "shards",
            value: "0".into(),
            reason: "at least one shard is needed",
        });
    }
    let tiles: Vec<TileRange> = plan.tiles().collect();
    let costs: Vec<f64> = tiles.iter().map(|t| tile_cost(plan, t)).collect();
    Ok(lpt_partition(&costs, count)
        .into_iter()
        .map(|group| group.into_iter().map(|i| tiles[i].clone()).collect())
        .collect())
}

/// max/mean of the shard costs (1 is perfect balance).
pub fn imbalance(plan: &TilePlan, shards: &[Vec<TileRange>]) -> f64 {
    let loads: Vec<f64> = shards
        .iter()
        .map(|s| s.iter().map(|t| tile_cost(plan, t)).sum())
        .collect();
    let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    let max = loads.iter().copied().fold(0.0, f64::max);
    if mean > 0.0 { max / mean } else { 1.0 }
}

/// The tile side for a job of an `n_rows` × `n_cols` kernel split into `count` shards: the
/// largest multiple of [`TILE_ALIGN`] not above `max_side` (the memory budget's side) that gives
/// every shard at least [`MIN_TILES_PER_SHARD`] tiles, or [`TILE_ALIGN`] if none does.
pub fn shard_tile_side(
    n_rows: usize,
    n_cols: usize,
    symmetric: bool,
    max_side: usize,
    count: usize,
) -> usize {
    let want = MIN_TILES_PER_SHARD * count.max(1);
    let mut side = (max_side / TILE_ALIGN).max(1) * TILE_ALIGN;
    while side > TILE_ALIGN {
        let (b1, b2) = (n_rows.div_ceil(side), n_cols.div_ceil(side));
        let tiles = if symmetric {
            b1 * (b1 + 1) / 2
        } else {
            b1 * b2
        };
        if tiles >= want {
            break;
        }
        side -= TILE_ALIGN;
    }
    side
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_plan() {
        let plan = TilePlan::new(1000, 1000, 128, true).unwrap();
        for count in [1, 2, 3, 7] {
            let shards = shard_tiles(&plan, count).unwrap();
            let mut seen: Vec<usize> = shards.iter().flatten().map(|t| t.index).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..plan.len()).collect::<Vec<_>>());
        }
        assert!(shard_tiles(&plan, 0).is_err());
    }

    #[test]
    fn a_60000_input_job_is_balanced_within_ten_percent() {
        // The criterion: max/mean shard cost <= 1.1 for N = 4, 16, 64 on 60 000 inputs,
        // with the tile side a 16 GB budget allows for float64 work (~ 46 000, capped by n).
        let n = 60_000;
        for count in [4, 16, 64] {
            let side = shard_tile_side(n, n, true, 46_080, count);
            let plan = TilePlan::new(n, n, side, true).unwrap();
            let shards = shard_tiles(&plan, count).unwrap();
            let ratio = imbalance(&plan, &shards);
            assert!(ratio <= 1.1, "N = {count}, side {side}: max/mean = {ratio}");
        }
    }

    #[test]
    fn lpt_meets_the_list_scheduling_bound() {
        // Greedy list scheduling: makespan <= total/N + (1 - 1/N)·max item (Graham 1969).
        let costs = [
            71.7, 10.3, 6.8, 4.1, 19.5, 5.6, 61.3, 28.3, 14.4, 0.4, 1.0, 9.0,
        ];
        let total: f64 = costs.iter().sum();
        for count in 1..=6 {
            let groups = lpt_partition(&costs, count);
            let makespan = groups
                .iter()
                .map(|g| g.iter().map(|&i| costs[i]).sum::<f64>())
                .fold(0.0, f64::max);
            let bound = total / count as f64 + (1.0 - 1.0 / count as f64) * 71.7;
            assert!(makespan <= bound + 1e-9, "N = {count}");
        }
    }
}
