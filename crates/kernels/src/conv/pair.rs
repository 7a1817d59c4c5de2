//! What a pair of images needs besides its own covariances: the per-(image, position)
//! variances of every activation (computed once per image, [`SelfRecord`]), and how an
//! activation step finds them ([`Pairing`]).
//!
//! An activation maps every covariance entry through the dual of σ with the variances of its
//! two positions (Novak et al. 2019, arXiv:1810.05148, eq. (5); Arora et al. 2019, App. "CNTK"):
//!
//! $$ \Sigma[p,p'] \leftarrow \mathbb E[\sigma(u)\sigma(v)],\ \Theta[p,p'] \leftarrow \mathbb E[\sigma'(u)\sigma'(v)]\,\Theta[p,p'],\quad
//!    (u, v) \sim \mathcal N\Big(0, \begin{smallmatrix}\Sigma(x,x)[p,p] & \Sigma[p,p']\\ \Sigma[p,p'] & \Sigma(x',x')[p',p']\end{smallmatrix}\Big). $$

use super::plan::{Plan, SpatialOp, TailStep};
use crate::Activation;
use crate::analytic::dual_diagonal;
use crate::analytic::recursion::{PointFeatures, activation_strip};

/// What the recursion of one image with itself records: the variances Σ(x, x)[p, p] entering
/// every spatial activation, the scalar variances entering every activation after the readout,
/// and the final Σ(x, x), Θ(x, x).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SelfRecord {
    pub spatial_q: Vec<Vec<f64>>,
    pub tail_q: Vec<f64>,
    pub nngp: f64,
    pub ntk: f64,
}

impl SelfRecord {
    pub(crate) fn new(plan: &Plan) -> Self {
        SelfRecord {
            spatial_q: plan.act_positions.iter().map(|&p| vec![0.0; p]).collect(),
            tail_q: vec![0.0; plan.n_tail_acts],
            nngp: 0.0,
            ntk: 0.0,
        }
    }
}

/// Activation features of one set of images: per spatial activation, indexed
/// `image * P + p` (image-major, full plans) or `p * n + image` (position-major, diagonal plans);
/// per activation after the readout, indexed by image.
#[derive(Debug, Clone, Default)]
pub(crate) struct SetFeatures {
    pub spatial: Vec<PointFeatures>,
    pub tail: Vec<PointFeatures>,
    pub n: usize,
}

impl SetFeatures {
    /// Features of the images whose self runs are `records`.
    pub(crate) fn new(plan: &Plan, records: &[SelfRecord], position_major: bool) -> Self {
        let n = records.len();
        let mut spatial = Vec::with_capacity(plan.act_positions.len());
        for stage in &plan.stages {
            if let SpatialOp::Act { act, index } = stage.op {
                let p_count = plan.act_positions[index];
                let mut q = vec![0.0; n * p_count];
                for (img, record) in records.iter().enumerate() {
                    for (p, &v) in record.spatial_q[index].iter().enumerate() {
                        let at = if position_major {
                            p * n + img
                        } else {
                            img * p_count + p
                        };
                        q[at] = v;
                    }
                }
                spatial.push(PointFeatures::from_variances(&act, &q));
            }
        }
        let tail = plan
            .tail
            .iter()
            .filter_map(|step| match *step {
                TailStep::Act { act, index } => {
                    let q: Vec<f64> = records.iter().map(|r| r.tail_q[index]).collect();
                    Some(PointFeatures::from_variances(&act, &q))
                }
                TailStep::Dense(_) => None,
            })
            .collect();
        SetFeatures { spatial, tail, n }
    }
}

/// How activations of a pair state find the variances of their positions.
pub(crate) enum Pairing<'a> {
    /// Rows `i0..i0 + len` of set 1 against image `j` of set 2 (position-major features).
    Strip {
        f1: &'a SetFeatures,
        f2: &'a SetFeatures,
        i0: usize,
        j: usize,
    },
    /// Image `i1` of set 1 against image `i2` of set 2 (image-major features).
    Single {
        f1: &'a SetFeatures,
        f2: &'a SetFeatures,
        i1: usize,
        i2: usize,
    },
    /// An image with itself: exact diagonal duals, recording the variances.
    SelfPair(&'a mut SelfRecord),
}

impl Pairing<'_> {
    /// A spatial activation on same-position covariances `c`, `t` (`[p][len]`, `p_count`
    /// positions).
    #[inline(always)]
    pub(crate) fn diagonal_act(
        &mut self,
        act: Activation,
        index: usize,
        p_count: usize,
        len: usize,
        c: &mut [f64],
        t: &mut [f64],
    ) {
        match self {
            Pairing::Strip { f1, f2, i0, j } => {
                let (g1, g2) = (&f1.spatial[index], &f2.spatial[index]);
                for p in 0..p_count {
                    let range = p * len..(p + 1) * len;
                    activation_strip(
                        act,
                        g1,
                        g2,
                        p * f1.n + *i0,
                        p * f2.n + *j,
                        &mut c[range.clone()],
                        &mut t[range],
                    );
                }
            }
            Pairing::Single { f1, f2, i1, i2 } => {
                let (g1, g2) = (&f1.spatial[index], &f2.spatial[index]);
                for p in 0..p_count {
                    activation_strip(
                        act,
                        g1,
                        g2,
                        *i1 * p_count + p,
                        *i2 * p_count + p,
                        &mut c[p..p + 1],
                        &mut t[p..p + 1],
                    );
                }
            }
            Pairing::SelfPair(record) => {
                let q = &mut record.spatial_q[index];
                q.copy_from_slice(&c[..p_count]);
                for p in 0..p_count {
                    let e = dual_diagonal(&act, q[p]);
                    c[p] = e.nngp;
                    t[p] *= e.ntk_dot;
                }
            }
        }
    }

    /// The layers after the readout on `len` scalar pair states.
    #[inline(always)]
    pub(crate) fn tail(&mut self, tail: &[TailStep], c: &mut [f64], t: &mut [f64]) {
        for step in tail {
            match *step {
                TailStep::Dense(affine) => {
                    for (ck, tk) in c.iter_mut().zip(t.iter_mut()) {
                        (*ck, *tk) = affine.apply(*ck, *tk);
                    }
                }
                TailStep::Act { act, index } => match self {
                    Pairing::Strip { f1, f2, i0, j } => {
                        activation_strip(act, &f1.tail[index], &f2.tail[index], *i0, *j, c, t);
                    }
                    Pairing::Single { f1, f2, i1, i2 } => {
                        activation_strip(act, &f1.tail[index], &f2.tail[index], *i1, *i2, c, t);
                    }
                    Pairing::SelfPair(record) => {
                        record.tail_q[index] = c[0];
                        let e = dual_diagonal(&act, c[0]);
                        c[0] = e.nngp;
                        t[0] *= e.ntk_dot;
                    }
                },
            }
        }
    }
}
