//! The registry of experiments, in report order. Add a module per experiment and one line to
//! [`registry`].

use super::experiment::Experiment;

mod catapult;
mod cnn_vs_cntk;
mod cntk_at_init;
mod conv_common;
mod du_synthetic;
mod fine_grained;
mod gap_vs_flatten;
mod gd_vs_linear;
mod generalization_bounds;
mod hessian_ntk_spectrum;
mod interpolator;
mod jacot_fig1;
mod jacot_fig2;
mod lambda_min;
mod lazy_alpha;
mod lazy_ratio;
mod linearized_decay;
mod mercer_spectrum;
mod ngd;
mod non_lipschitz;
mod ntk_at_init;
mod proof_strategy;
mod relu_ntk_closed_form;
mod rf_nt_concentration;
mod sgd;
mod single_neuron;
mod smooth_lipschitz;
mod staircase;
mod weak_vs_full;
mod width_requirements;

/// Every experiment of `cargo xtask reproduce`, in report order.
pub fn registry() -> Vec<Box<dyn Experiment>> {
    vec![
        // (experiments are registered here)
        Box::new(interpolator::Interpolator),
        Box::new(lazy_ratio::LazyRatio),
        Box::new(proof_strategy::ProofStrategy),
        Box::new(ntk_at_init::NtkAtInit),
        Box::new(jacot_fig1::JacotFig1),
        Box::new(jacot_fig2::JacotFig2),
        Box::new(weak_vs_full::WeakVsFull),
        Box::new(relu_ntk_closed_form::ReluNtkClosedForm),
        Box::new(non_lipschitz::NonLipschitz),
        Box::new(smooth_lipschitz::SmoothLipschitz),
        Box::new(mercer_spectrum::MercerSpectrum),
        Box::new(du_synthetic::DuSynthetic),
        Box::new(lambda_min::LambdaMin),
        Box::new(fine_grained::FineGrained),
        Box::new(ngd::Ngd),
        Box::new(sgd::Sgd),
        Box::new(generalization_bounds::GeneralizationBounds),
        Box::new(width_requirements::WidthRequirements),
        Box::new(lazy_alpha::LazyAlpha),
        Box::new(hessian_ntk_spectrum::HessianNtkSpectrum),
        Box::new(catapult::Catapult),
        Box::new(linearized_decay::LinearizedDecay),
        Box::new(rf_nt_concentration::RfNtConcentration),
        Box::new(staircase::Staircase),
        Box::new(single_neuron::SingleNeuron),
        Box::new(gd_vs_linear::GdVsLinear),
        Box::new(cnn_vs_cntk::CnnVsCntk),
        Box::new(cntk_at_init::CntkAtInit),
        Box::new(gap_vs_flatten::GapVsFlatten),
    ]
}
