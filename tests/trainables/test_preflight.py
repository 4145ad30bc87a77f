"""The driver's checks of a trainable: what its trials will report, and a user's compiled model's space."""
from __future__ import annotations

import pytest

from tunelab.searchspaces import load_space
from tunelab.trainables import load_dataset
from tunelab.trainables.model_params import TrainableError
from tunelab.trainables.preflight import check_trainable

REGRESSOR = "tests.trainables.compiled_model:regressor"


@pytest.fixture(scope="module")
def diabetes():
    return load_dataset("diabetes", task="regression")


def test_a_catalog_model_reports_the_task_defaults_and_the_listed_metrics(diabetes, digits):
    assert check_trainable("mlp", diabetes, load_space("mlp", task="regression"), metrics=("rmse",)) == (
        "loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse")
    assert check_trainable("cnn", digits, load_space("cnn"), metrics=("auc",)) == (
        "loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc")


def test_a_compiled_model_reports_what_its_own_compile_names(diabetes):
    space = load_space({"units": {"type": "choice", "values": [8, 16]}})
    assert set(check_trainable(REGRESSOR, diabetes, space)) == {"loss", "my_mae", "val_loss", "val_my_mae"}


def test_compile_time_hyperparameters_a_compiled_model_reads_are_allowed_and_those_it_ignores_refused(diabetes):
    read = load_space({"learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
                       "loss": {"type": "choice", "values": ["mse", "huber"]}, "units": 8})
    check_trainable(REGRESSOR, diabetes, read)
    pinned = load_space({"learning_rate": 0.01})  # one value: probed against another
    check_trainable(REGRESSOR, diabetes, pinned)
    with pytest.raises(TrainableError, match=r"space.lr_schedule: .*regressor returns a compiled model.* lr_schedule "
                                             r"never reaches it \(built with 'constant' and 'cosine'"):
        check_trainable(REGRESSOR, diabetes, load_space({"lr_schedule": {"type": "choice",
                                                                          "values": ["constant", "cosine"]}}))


def test_a_hyperparameter_that_reaches_the_model_only_with_some_others_is_allowed(diabetes):
    space = load_space({"optimizer": {"type": "choice", "values": ["adam", "sgd"]},
                        "momentum": {"type": "float", "low": 0.0, "high": 0.9}})  # unconditional, read for sgd
    # seed 1 draws adam, adam, sgd first: momentum reaches the model only in the third configuration
    check_trainable("tests.trainables.compiled_model:chosen_optimizer", diabetes, space, seed=1)


def test_a_compiled_model_may_use_values_tunelab_would_refuse_for_its_own_compile(diabetes):
    check_trainable(REGRESSOR, diabetes, load_space({"loss": {"type": "choice", "values": ["log_cosh", "mse"]}}))


def test_an_uncompiled_user_model_is_held_to_tunelabs_compile_domains(digits):
    with pytest.raises(TrainableError, match="space.loss: 'mse'; model tests.trainables.helpers:tiny_mlp reads loss "
                                             "as one of categorical_crossentropy"):
        check_trainable("tests.trainables.helpers:tiny_mlp", digits, load_space({"loss": "mse"}))


def test_a_compiled_model_that_cannot_take_tunelabs_labels_is_one_line(digits):
    with pytest.raises(TrainableError, match=r"returns a compiled model that cannot evaluate a batch labelled as "
                                             r"trials label theirs \(one-hot classes of shape \(10,\)\)"):
        check_trainable(REGRESSOR, digits, load_space({"units": 8}))


class _RecordedConfig:
    """tf.config's few calls the driver makes about GPUs, recorded (a CPU machine has no GPU to hide)."""

    def __init__(self, initialised: bool = False) -> None:
        self.calls: list[tuple] = []
        self.initialised = initialised
        self.experimental = self

    def list_physical_devices(self, kind: str) -> list[str]:
        return ["GPU:0", "GPU:1"]

    def set_visible_devices(self, devices: list, kind: str) -> None:
        if self.initialised:
            raise RuntimeError("Visible devices cannot be modified after being initialized")
        self.calls.append(("visible", tuple(devices), kind))

    def set_memory_growth(self, device: str, enabled: bool) -> None:
        self.calls.append(("growth", device, enabled))


def test_tunelabs_command_hides_the_gpus_from_the_driver_and_a_users_process_gets_memory_growth():
    from tunelab.trainables.preflight import keep_off_the_gpus

    command, users = _RecordedConfig(), _RecordedConfig()
    keep_off_the_gpus(command, hide=True)
    keep_off_the_gpus(users, hide=False)
    assert command.calls == [("visible", (), "GPU")]
    assert users.calls == [("growth", "GPU:0", True), ("growth", "GPU:1", True)]
    keep_off_the_gpus(_RecordedConfig(initialised=True), hide=True)  # the user's TensorFlow already started: left
