import json

import cv2
import numpy as np
import pytest
import torch
from conftest import shared_path

from heatmapnet.errors import UserError
from heatmapnet.model.backbones import SPECS, build_backbone
from heatmapnet.model.checkpoint import load_model, save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import PRIOR_PROBABILITY, HeatmapNet
from heatmapnet.pipeline import shipped_model
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.runtimes import open_runtime

VARIANTS = [(name, stride) for name, spec in SPECS.items() for stride in spec.cuts]


@pytest.mark.parametrize("name,stride", VARIANTS)
def test_every_backbone_forward_backward(name, stride):
    torch.manual_seed(0)
    model = HeatmapNet(ModelConfig(backbone=name, stride=stride, freeze_backbone=False))
    images = torch.randn(2, 3, 96, 128)
    features = model.backbone(images)
    assert features.shape == (2, model.backbone.channels, 96 // stride, 128 // stride)
    outputs = model(images)
    assert outputs["heatmap"].shape == (2, 1, 96 // stride, 128 // stride)
    assert outputs["size"].shape == (2, 2, 96 // stride, 128 // stride)
    assert all(torch.isfinite(v).all() for v in outputs.values())
    (outputs["heatmap"].mean() + outputs["size"].mean()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert no_grad == []


def test_head_starts_at_the_low_prior():
    model = HeatmapNet(ModelConfig(size_head=False))
    with torch.no_grad():
        probability = torch.sigmoid(model(torch.zeros(1, 3, 64, 64))["heatmap"]).mean().item()
    assert probability == pytest.approx(PRIOR_PROBABILITY, abs=0.02)
    assert "size" not in model(torch.zeros(1, 3, 64, 64))


def test_frozen_backbone_gets_no_gradient_and_stays_constant():
    model = HeatmapNet(ModelConfig(backbone="vgg16", freeze_backbone=True)).train()
    frozen = [p for p in model.backbone.body.parameters()]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in model.backbone.extra.parameters())
    bn_model = HeatmapNet(ModelConfig(backbone="mobilenet_v2", freeze_backbone=True)).train()
    assert not any(m.training for m in bn_model.backbone.body.modules())


@pytest.mark.parametrize("name,file", [("mobilenet_v2", "mobilenet_v2_imagenet.pth"),
                                       ("vgg16", "vgg16_blocks1-3_imagenet.pth")])
def test_offline_imagenet_weights_load(name, file):
    path = shared_path("weights", file)
    state = torch.load(path, map_location="cpu")
    model = HeatmapNet(ModelConfig(backbone=name, pretrained=str(path)))
    first = next(iter(model.backbone.body.state_dict().items()))
    assert torch.equal(first[1], state["features." + first[0]])


def test_pretrained_errors_are_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="pretrained weights file not found"):
        build_backbone("mobilenet_v2", pretrained=str(tmp_path / "missing.pth"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    with pytest.raises(UserError, match="do not fit backbone mobilenet_v2.*expected torchvision keys"):
        build_backbone("mobilenet_v2", pretrained=str(wrong))
    with pytest.raises(UserError, match="supports stride"):
        build_backbone("vgg16", stride=16)


def test_checkpoint_round_trip_keeps_weights_and_normalisation(tmp_path):
    config = ModelConfig(backbone="mobilenet_v3_small", input_width=256, input_height=192, resize="stretch")
    model = HeatmapNet(config)
    save_checkpoint(tmp_path / "m.pt", model, decode={"threshold": 0.3}, meta={"epoch": 3})
    loaded, payload = load_model(tmp_path / "m.pt")
    assert loaded.config == config and payload["decode"]["threshold"] == 0.3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x)["heatmap"], loaded(x)["heatmap"])


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="checkpoint not found"):
        load_model(tmp_path / "none.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_model(tmp_path / "corrupt.pt")
    torch.save(HeatmapNet(ModelConfig()).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(UserError, match="not a HeatmapNet checkpoint"):
        load_model(tmp_path / "bare.pt")
    save_checkpoint(tmp_path / "other.pt", HeatmapNet(ModelConfig(backbone="mobilenet_v3_small")))
    payload = torch.load(tmp_path / "other.pt", weights_only=False)
    payload["model_config"]["backbone"] = "mobilenet_v2"
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(UserError, match="does not match a mobilenet_v2"):
        load_model(tmp_path / "mismatch.pt")


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_shipped_model_loads_and_finds_the_labelled_hand(runtime):
    frame = cv2.imread(str(shared_path("data", "webcam4", "images", "hand", "000100.jpg")))
    detector = HandDetector(open_runtime(runtime, shipped_model(runtime)))
    assert detector.runtime.model_config.backbone == "mobilenet_v2"
    document = json.loads(shared_path("data", "webcam4", "annotations.json").read_text())
    image = next(i for i in document["images"] if i["file_name"] == "images/hand/000100.jpg")
    x, y, w, h = next(a["bbox"] for a in document["annotations"] if a["image_id"] == image["id"])
    detections = detector(frame)
    distances = np.hypot(detections[:, 0] - (x + w / 2), detections[:, 1] - (y + h / 2))
    assert len(detections) and distances.min() <= 0.5 * (w * h) ** 0.5


def test_shipped_int8_copy_is_a_quantisation_of_the_shipped_model():
    """The int8 copy is the default on CPUs with VNNI (precision=auto): it must be re-quantised whenever the model is
    re-shipped. Its maps follow the fp32 copy's (a stale copy of other weights would not), and on real frames it finds
    the same hands within a tenth of a hand size, with scores within 0.1."""
    fp32 = HandDetector(open_runtime("onnxruntime", shipped_model("onnxruntime")))
    int8 = HandDetector(open_runtime("onnxruntime", shipped_model("onnxruntime", "int8")))
    assert (int8.runtime.model_config, int8.decode_config) == (fp32.runtime.model_config, fp32.decode_config)
    rng = np.random.default_rng(0)
    for _ in range(3):
        frame = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), np.uint8), (0, 0), 3)
        (want, _), (got, _) = fp32.infer(fp32.prepare(frame)), int8.infer(int8.prepare(frame))
        assert np.corrcoef(want.ravel(), got.ravel())[0, 1] > 0.95
    folder = shared_path("data", "webcam4", "images")
    for path in sorted(folder.glob("*/*.jpg"))[::40]:
        frame = cv2.imread(str(path))
        want, got = fp32(frame), int8(frame)
        assert len(want) == len(got), path
        for row in want:
            nearest = got[np.argmin(np.hypot(got[:, 0] - row[0], got[:, 1] - row[1]))]
            assert np.hypot(*(nearest[:2] - row[:2])) <= 0.1 * np.sqrt(row[3] * row[4]), path
            assert abs(nearest[2] - row[2]) <= 0.1, path


def test_shipped_onnx_copy_gives_the_same_detections_as_the_shipped_checkpoint():
    """models are shipped twice (.pt for training and torch, .onnx for the default runtime): same weights."""
    onnx_detector = HandDetector(open_runtime("onnxruntime", shipped_model("onnxruntime")))
    torch_detector = HandDetector(open_runtime("torch", shipped_model("torch")))
    assert onnx_detector.runtime.model_config == torch_detector.runtime.model_config
    assert onnx_detector.decode_config == torch_detector.decode_config
    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), np.uint8), (0, 0), 3) for _ in range(3)]
    for frame in frames:
        onnx_logits, onnx_size = onnx_detector.infer(onnx_detector.prepare(frame))
        torch_logits, torch_size = torch_detector.infer(torch_detector.prepare(frame))
        np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-3)
        np.testing.assert_allclose(onnx_size, torch_size, atol=1e-3)



def test_metadata_with_numpy_values_is_saved_as_plain_data_the_safe_loader_accepts(tmp_path):
    """Training metrics are often NumPy scalars (and dict keys NumPy strings): saved as they are, the file would be
    refused by the loader that never unpickles anything but tensors and plain data."""
    meta = {"val": {"f1": np.float32(0.5), "per_dataset": {np.str_("webcam10"): {"hands": np.int64(3)}}},
            "sizes": np.array([1.0, 2.0])}
    save_checkpoint(tmp_path / "numpy.pt", HeatmapNet(ModelConfig(backbone="mobilenet_v3_small")), meta=meta)
    _, payload = load_model(tmp_path / "numpy.pt")
    assert payload["meta"] == {"val": {"f1": 0.5, "per_dataset": {"webcam10": {"hands": 3}}}, "sizes": [1.0, 2.0]}
    assert type(next(iter(payload["meta"]["val"]["per_dataset"]))) is str


def test_left_out_blocks_act_as_residual_blocks_whose_branch_adds_nothing(tmp_path):
    """`model.skip_blocks` (issue 11's cheaper networks): the slim network equals the full one with the left-out
    blocks' residual branches silenced, keeps the other layers' names, and survives a checkpoint round trip."""
    torch.manual_seed(0)
    full = HeatmapNet(ModelConfig(stride=16)).eval()
    slim = HeatmapNet(ModelConfig(stride=16, skip_blocks=[10, 13])).eval()
    slim.load_state_dict({k: v for k, v in full.state_dict().items() if k in slim.state_dict()})
    assert set(full.state_dict()) - set(slim.state_dict()) == {
        k for k in full.state_dict() if k.startswith(("backbone.body.10.", "backbone.body.13."))}
    images = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        before = full.backbone(images)  # the features: the fresh head's tiny weights would hide differences
        for block in (10, 13):  # the branch's last BatchNorm outputs zero: the block passes its input through
            last_norm = full.backbone.body[block].conv[-1]
            last_norm.weight.zero_(), last_norm.bias.zero_()
        silenced, slimmed = full.backbone(images), slim.backbone(images)
    def relative(a, b):  # untrained features are tiny: compare relative to their size
        return ((a - b).norm() / b.norm()).item()

    assert relative(before, silenced) > 0.01  # the blocks did matter
    assert relative(slimmed, silenced) < 1e-5
    assert sum(p.numel() for p in slim.parameters()) < sum(p.numel() for p in full.parameters())
    save_checkpoint(tmp_path / "slim.pt", slim)
    loaded, _ = load_model(tmp_path / "slim.pt")
    assert loaded.config.skip_blocks == (10, 13)
    with torch.no_grad():
        assert relative(loaded.backbone(images), slimmed) < 1e-6


def test_only_residual_blocks_can_be_left_out():
    with pytest.raises(UserError, match=r"skip_blocks \[2\] cannot be left out .* residual blocks can, \[3, 5"):
        HeatmapNet(ModelConfig(stride=16, skip_blocks=[2, 13]))


def test_fixed_norm_statistics_keep_running_statistics_while_scale_and_shift_learn():
    torch.manual_seed(0)
    model = HeatmapNet(ModelConfig(stride=16, fixed_norm_statistics=True)).train()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    model(torch.randn(2, 3, 64, 64) * 3 + 1)["heatmap"].sum().backward()
    assert norms and not any(m.training for m in norms)
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in norms)
    learning = HeatmapNet(ModelConfig(stride=16)).train()
    learning(torch.randn(2, 3, 64, 64) * 3 + 1)
    assert not torch.equal(next(m for m in learning.modules() if isinstance(m, torch.nn.BatchNorm2d)).running_mean,
                           torch.zeros(32))  # without the setting the statistics move
