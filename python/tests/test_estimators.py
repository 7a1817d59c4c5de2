"""NTKRegressor / NTKClassifier: scikit-learn's estimator checks, Pipeline use, and agreement
with the functional API they are built on."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ntk_lab import predict, stax
from ntk_lab.estimators import NTKClassifier, NTKRegressor

from conftest import nt_inputs


# Every check scikit-learn generates for these estimators runs; none is marked as an expected
# failure. The only skips are scikit-learn's own, for optional packages absent from the test
# venv (pandas input checks) and the array-API checks it runs only with SCIPY_ARRAY_API=1.
@parametrize_with_checks([NTKRegressor(), NTKClassifier(), NTKRegressor(kernel="nngp", activation="erf", t=1e4)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_regressor_equals_gradient_descent_mse():
    """fit/predict is predict.gradient_descent_mse with the same kernel, ridge and time; the
    dual-coefficient route differs from the direct test prediction by solve rounding
    (kappa * n * eps with kappa ~ 1e3 here): 1e-9 relative."""
    x = nt_inputs(40, 5)
    x_test = nt_inputs(10, 5, first_row=40)
    y = np.sin(np.arange(40) * 0.3)
    for t in (None, 3.0):
        model = NTKRegressor(depth=2, t=t, diag_reg=1e-4).fit(x, y)
        network = model._network()
        k = network.kernel_fn(x, None, "ntk")
        predict_fn = predict.gradient_descent_mse(k, y[:, None], diag_reg=1e-4)
        _, expected = predict_fn(t=t, k_test_train=network.kernel_fn(x_test, x, "ntk"))
        got = model.predict(x_test)
        assert got.shape == (10,)
        assert np.abs(got - expected[:, 0]).max() <= 1e-9 * np.abs(expected).max()


def test_pipeline_and_classifier_accuracy():
    """Two Gaussian blobs 6 standard deviations apart: a kernel classifier separates them
    (the Bayes error is Phi(-3) = 0.13%, so > 95% test accuracy on 200 points is a weak bound)."""
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0, 1.0], [-3.0, 0.0, 1.0]])
    labels = rng.integers(0, 2, 400)
    features = centres[labels] + rng.standard_normal((400, 3))
    names = np.array(["cat", "dog"])[labels]
    pipe = make_pipeline(StandardScaler(), NTKClassifier(depth=2, diag_reg=1e-3))
    pipe.fit(features[:200], names[:200])
    assert pipe.score(features[200:], names[200:]) > 0.95
    assert set(pipe.predict(features[200:])) <= {"cat", "dog"}
    # The regressor in a Pipeline is the regressor on standardised features; at t = inf with
    # a ridge of 1e-8 * mean diag it interpolates its training targets (R^2 = 1 to ~1e-6).
    network = stax.serial(stax.Dense(512, 1.4, 0.1), stax.Gelu(), stax.Dense(1, 1.4, 0.1))
    target = np.sin(features[:, 0])
    regressor = make_pipeline(StandardScaler(), NTKRegressor(architecture=network, diag_reg=1e-8))
    regressor.fit(features[:200], target[:200])
    assert regressor.score(features[:200], target[:200]) > 1 - 1e-6
    scaler = StandardScaler().fit(features[:200])
    alone = NTKRegressor(architecture=network, diag_reg=1e-8).fit(scaler.transform(features[:200]), target[:200])
    assert np.array_equal(
        regressor.predict(features[200:]), alone.predict(scaler.transform(features[200:]))
    )


def test_get_set_params():
    model = NTKRegressor(depth=4, activation="erf")
    params = model.get_params()
    assert params["depth"] == 4 and params["activation"] == "erf"
    model.set_params(depth=1, kernel="nngp")
    assert model.depth == 1 and model.kernel == "nngp"
    with pytest.raises(ValueError):
        NTKRegressor(activation="swish").fit(nt_inputs(5, 2), np.arange(5.0))
