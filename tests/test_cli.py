import subprocess
import sys

import pytest

from kdbook.cli import main


def test_help_runs_and_lists_commands():
    out = subprocess.run([sys.executable, "-m", "kdbook", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("run", "book", "train", "datasets", "profiles", "examples:"):
        assert word in out.stdout


@pytest.mark.parametrize("argv, expected", [
    (["train", "--T", "0"], ["error: distill: T must be a number > 0, got 0.0"]),
    (["train", "--T", "-1", "--alpha", "1.5"],
     ["error: distill: T must be a number > 0, got -1.0", "error: distill: alpha must be a number in [0, 1], got 1.5"]),
    (["train", "--dataset", "imagenet"], ["error: dataset must be one of cifar10, cifar100, digits, fashion-mnist, mnist; got 'imagenet'"]),
    (["train", "--widths", "0"], ["error: model: widths must hold integers >= 1, got 0"]),
    (["train", "--epochs", "0", "--seed", "-3"],
     ["error: train: epochs must be an integer >= 1, got 0", "error: train: seed must be an integer >= 0, got -3"]),
])
def test_bad_parameters_give_one_line_each_before_any_work(argv, expected, capsys, monkeypatch):
    import kdbook.data

    def no_loading(*a, **k):
        raise AssertionError("data was loaded before the parameters were validated")

    monkeypatch.setattr(kdbook.data, "load_dataset", no_loading)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == expected


def test_unknown_profile_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "ch01", "--profile", "huge"])
    assert exc.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_train_command_runs_a_distillation(capsys):
    assert main(["train", "--dataset", "digits", "--widths", "32", "--teacher-widths", "64",
                 "--epochs", "3", "--T", "4", "--alpha", "0.9", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "teacher: {'accuracy'" in out and "student: {'accuracy'" in out


def test_missing_dataset_is_one_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KDBOOK_DATA", str(tmp_path))
    assert main(["train", "--dataset", "mnist", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: dataset 'mnist' is not available under " + str(tmp_path))
    assert "Traceback" not in err


def test_run_chapter_one_smoke(capsys):
    assert main(["run", "ch01", "--profile", "smoke", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "logits:" in out and "profile `smoke`" in out and "[computed now]" in out
    assert main(["run", "ch01", "--profile", "smoke", "--device", "cpu"]) == 0
    assert "[stored result]" in capsys.readouterr().out


def test_a_reader_varies_a_chapter_by_name_and_unknown_names_are_refused():
    from kdbook.errors import ConfigError
    from kdbook.experiments import ch03_unseen_class as ch03
    from kdbook.experiments.common import with_changes

    s = ch03.settings("smoke")
    assert with_changes(s, {"T": 2.0}).T == 2.0 and with_changes(s, None) is s
    with pytest.raises(ConfigError, match="has no setting temperature; its settings are: .*T"):
        with_changes(s, {"temperature": 2.0})
    with pytest.raises(ConfigError, match="T"):
        with_changes(s, {"T": -1.0})  # validated like the published settings
