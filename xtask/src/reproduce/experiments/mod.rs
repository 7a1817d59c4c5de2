//! The registry of experiments, in report order. Add a module per experiment and one line to
//! [`registry`].

use super::experiment::Experiment;

mod catapult;
mod du_synthetic;
mod fine_grained;
mod interpolator;
mod lazy_ratio;
mod linearized_decay;
mod mercer_spectrum;
mod non_lipschitz;
mod ntk_at_init;
mod proof_strategy;
mod relu_ntk_closed_form;
mod rf_nt_concentration;
mod single_neuron;
mod smooth_lipschitz;
mod staircase;

/// Every experiment of `cargo xtask reproduce`, in report order.
pub fn registry() -> Vec<Box<dyn Experiment>> {
    vec![
        // (experiments are registered here)
        Box::new(interpolator::Interpolator),
        Box::new(lazy_ratio::LazyRatio),
        Box::new(proof_strategy::ProofStrategy),
        Box::new(ntk_at_init::NtkAtInit),
        Box::new(relu_ntk_closed_form::ReluNtkClosedForm),
        Box::new(non_lipschitz::NonLipschitz),
        Box::new(smooth_lipschitz::SmoothLipschitz),
        Box::new(mercer_spectrum::MercerSpectrum),
        Box::new(du_synthetic::DuSynthetic),
        Box::new(fine_grained::FineGrained),
        Box::new(catapult::Catapult),
        Box::new(linearized_decay::LinearizedDecay),
        Box::new(rf_nt_concentration::RfNtConcentration),
        Box::new(staircase::Staircase),
        Box::new(single_neuron::SingleNeuron),
    ]
}
