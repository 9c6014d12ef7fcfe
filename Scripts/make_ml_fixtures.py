#!/usr/bin/env python3
"""Builds the scikit-learn fixtures under Tests/Fixtures/ml/ (skl2onnx, zipmap=False).

Each fixture is a directory in the ONNX backend-test layout: model.onnx plus
test_data_set_0/input_*.pb and output_*.pb, where the outputs are onnxruntime's.
Seeded; rerunning gives the same models for the same library versions. Used only to make
fixtures; the tests never run Python.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, Normalizer, MinMaxScaler
from sklearn.svm import LinearSVC

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "ml")
TARGET_OPSET = {"": 13, "ai.onnx.ml": 3}


def save(name, model, X, options=None):
    X = X.astype(np.float32)
    onx = to_onnx(model, X[:1], target_opset=TARGET_OPSET, options=options)
    d = os.path.join(ROOT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save_model(onx, os.path.join(d, "model.onnx"))
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    outs = sess.run(None, {inp: X})
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(X, inp).SerializeToString())
    for i, (o, meta) in enumerate(zip(outs, sess.get_outputs())):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(o), meta.name).SerializeToString())
    ops = sorted({(n.domain or "ai.onnx") + "." + n.op_type for n in onx.graph.node})
    print(f"{name}: {len(onx.SerializeToString())} bytes, ops {ops}, outputs {[o.shape for o in outs]}")


def main():
    rng = np.random.RandomState(0)
    Xc, yc = make_classification(n_samples=200, n_features=8, n_informative=5, n_classes=3, random_state=0)
    Xb, yb = make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=2, random_state=1)
    Xr, yr = make_regression(n_samples=200, n_features=8, n_targets=1, noise=0.5, random_state=2)
    Xr2, yr2 = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.5, random_state=3)
    test_c = Xc[:16]
    test_b = Xb[:16]
    test_r = Xr[:16]
    nozip = {"zipmap": False}

    save("mlp_classifier", MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=400, random_state=0).fit(Xc, yc), test_c, {MLPClassifier: nozip})
    save("mlp_regressor", MLPRegressor(hidden_layer_sizes=(16,), max_iter=400, random_state=0).fit(Xr, yr), test_r)
    save("rf_classifier", RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(Xc, yc), test_c, {RandomForestClassifier: nozip})
    save("rf_classifier_binary", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xb, yb), test_b, {RandomForestClassifier: nozip})
    save("rf_regressor", RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(Xr, yr), test_r)
    save("rf_regressor_2targets", RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(Xr2, yr2), Xr2[:16])
    save("gb_classifier", GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0).fit(Xc, yc), test_c, {GradientBoostingClassifier: nozip})
    save("gb_classifier_binary", GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0).fit(Xb, yb), test_b, {GradientBoostingClassifier: nozip})
    save("linear_regression", LinearRegression().fit(Xr, yr), test_r)
    save("ridge_2targets", Ridge().fit(Xr2, yr2), Xr2[:16])
    save("logistic_multinomial", LogisticRegression(max_iter=500).fit(Xc, yc), test_c, {LogisticRegression: nozip})
    save("logistic_binary", LogisticRegression(max_iter=500).fit(Xb, yb), test_b, {LogisticRegression: nozip})
    save("linear_svc", LinearSVC().fit(Xc, yc), test_c)
    save("scaler_logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xc, yc), test_c, {LogisticRegression: nozip})
    save("minmax_normalizer_ridge", make_pipeline(MinMaxScaler(), Normalizer(norm="l2"), Ridge()).fit(Xr, yr), test_r)
    save("normalizer_l1_max", make_pipeline(Normalizer(norm="l1"), Normalizer(norm="max"), Ridge()).fit(Xr, yr), test_r)

    # ZipMap outputs a sequence of maps; the engine refuses it with a hint. Model only.
    zm = to_onnx(LogisticRegression(max_iter=500).fit(Xb, yb), Xb[:1].astype(np.float32), target_opset=TARGET_OPSET)
    os.makedirs(os.path.join(ROOT, "zipmap_refused"), exist_ok=True)
    onnx.save_model(zm, os.path.join(ROOT, "zipmap_refused", "model.onnx"))


if __name__ == "__main__":
    sys.exit(main())
