"""Backbones: registry, EfficientNet-Lite0 correctness, torchvision hub cache, caching, FLOPs."""

from __future__ import annotations

import hashlib
import importlib.util
import threading

import pytest
import torch
import torchvision
from torch import nn

from tame_xr import backbones
from tame_xr._efficientnet_lite import EfficientNetLite0, weights_file

LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _images(n: int, seed: int = 0) -> torch.Tensor:
    """Random images in [0, 1], ImageNet-normalised."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 224, 224, generator=g) - MEAN) / STD


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def lite0() -> backbones.Backbone:
    return backbones.load_backbone(device="cpu")


def test_registry_order_and_names():
    names = backbones.available_backbones()
    assert names[:2] == ["efficientnet_lite0", "shufflenet_v2_x1_0"]
    assert set(torchvision.models.list_models(module=torchvision.models)) == set(names[1:])
    assert len(names) == len(set(names))


def test_lite0_loads_strictly_frozen_and_identified(lite0):
    assert lite0.name == "efficientnet_lite0" and lite0.layer == "logits"
    assert lite0.n_features == 1000 and lite0.input_size == 224
    assert lite0.device == torch.device("cpu")
    assert lite0.weights_sha256 == _sha256(lite0.weights_path) == LITE0_SHA256
    assert not lite0.model.training
    assert not any(p.requires_grad for p in lite0.model.parameters())
    # every key of the file has a module of the same name and shape, and nothing is left over
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    result = EfficientNetLite0().load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    ours = lite0.model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in state.items())


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None,
    reason="reference implementation not installed (pip install efficientnet-lite-pytorch)",
)
def test_lite0_matches_reference_implementation(lite0):
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    ref.load_state_dict(state, strict=True)
    ref.eval()
    x = _images(2, seed=1) * 1.5  # beyond the unit range as well
    with torch.inference_mode():
        expected = ref(x)
    assert (lite0.forward(x) - expected).abs().max().item() < 1e-4


def test_lite0_logits_are_sensible_and_batch_independent(lite0):
    x = _images(8)
    out = lite0.forward(x)
    assert out.shape == (8, 1000) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.std().item() > 0.1  # logits vary across classes
    assert (out[1:] - out[:1]).abs().max().item() > 1e-3  # and across images
    assert torch.equal(lite0.forward(x), out)  # eval mode: deterministic
    for i in (0, 5):
        alone = lite0.forward(x[i : i + 1])
        assert (alone[0] - out[i]).abs().max().item() < 1e-5
    assert torch.allclose(lite0.model(x[:2]), out[:2], atol=1e-5)


def test_pooled_layer_and_cache(lite0):
    first = backbones.load_backbone(device="cpu")
    before = backbones.load_count()
    assert backbones.load_backbone(device="cpu") is first
    assert backbones.load_backbone("efficientnet_lite0", device=torch.device("cpu")) is first
    assert backbones.load_count() == before
    pooled = backbones.load_backbone(layer="pooled", device="cpu")
    assert backbones.load_count() == before + 1
    assert pooled.n_features == 1280 and pooled.model is not lite0.model
    emb = pooled.forward(_images(2))
    assert emb.shape == (2, 1280) and (emb >= 0).all()  # after ReLU6 and averaging
    assert lite0.n_features == 1000  # the cached logits model is untouched


def test_loaded_once_across_threads():
    backbones.clear_cache()
    before = backbones.load_count()
    results: list[backbones.Backbone] = []
    threads = [
        threading.Thread(target=lambda: results.append(backbones.load_backbone(device="cpu")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backbones.load_count() == before + 1
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_flops_of_lite0(lite0):
    flops = lite0.flops_per_image()
    assert 0.6e9 < flops < 1.0e9
    assert backbones.count_flops(lite0) == flops


def test_bad_names_and_layers():
    with pytest.raises(ValueError, match="unknown backbone 'resnet9000'.*efficientnet_lite0"):
        backbones.load_backbone("resnet9000")
    with pytest.raises(ValueError, match="layer must be one of"):
        backbones.load_backbone(layer="conv5")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A private, empty torch hub cache (via TORCH_HOME) and a clean backbone cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    backbones.clear_cache()
    yield tmp_path
    backbones.clear_cache()


def test_torchvision_weights_missing(torch_home):
    path = torch_home / "hub" / "checkpoints" / "shufflenetv2_x1-5666bf0f80.pth"
    assert backbones.torchvision_weights_path("shufflenet_v2_x1_0") == path
    with pytest.raises(FileNotFoundError) as err:
        backbones.load_backbone("shufflenet_v2_x1_0", device="cpu")
    message = str(err.value)
    assert str(path) in message and "TORCH_HOME" in message
    assert 'get_model("shufflenet_v2_x1_0", weights="DEFAULT")' in message


def test_torchvision_weights_from_hub_cache(torch_home):
    path = backbones.torchvision_weights_path("shufflenet_v2_x1_0")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    state = torchvision.models.shufflenet_v2_x1_0(weights=None).state_dict()
    torch.save(state, path)
    with pytest.warns(UserWarning, match="does not match the hash in its name"):
        net = backbones.load_backbone("shufflenet_v2_x1_0", device="cpu")
    assert net.n_features == 1000 and net.weights_path == str(path)
    assert net.weights_sha256 == _sha256(path)
    assert torch.equal(net.model.state_dict()["fc.weight"], state["fc.weight"])
    assert net.forward(_images(2)).shape == (2, 1000)
    with pytest.warns(UserWarning):
        pooled = backbones.load_backbone("shufflenet_v2_x1_0", layer="pooled", device="cpu")
    assert pooled.n_features == 1024
    assert pooled.forward(_images(2)).shape == (2, 1024)
    assert 0.2e9 < net.flops_per_image() < 0.4e9  # ShuffleNetV2 1.0x: ~146 MMACs


@pytest.mark.parametrize(
    ("build", "size"),
    [
        (lambda: torchvision.models.resnet18(), 512),  # fc
        (lambda: torchvision.models.mobilenet_v3_small(), 1024),  # classifier Sequential
        (lambda: torchvision.models.DenseNet(8, (1, 1), 16), 20),  # classifier Linear
        (
            lambda: torchvision.models.VisionTransformer(32, 16, 1, 2, 8, 8),  # heads.head
            8,
        ),
    ],
)
def test_pooled_for_torchvision_families(build, size):
    model = build().eval()
    assert backbones._pooled(model, "some_model") == size
    out = model(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, size)


def test_pooled_unsupported_family():
    with pytest.raises(ValueError, match="not supported for 'squeezenet1_1'"):
        backbones._pooled(torchvision.models.squeezenet1_1(), "squeezenet1_1")


def test_forward_accepts_other_dtypes_and_flop_hooks_are_removed(lite0):
    x = _images(1)
    assert torch.equal(lite0.forward(x.double()), lite0.forward(x))
    assert torch.equal(lite0(x), lite0.forward(x))
    assert all(not m._forward_hooks for m in lite0.model.modules())
    assert isinstance(lite0.model, nn.Module)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_channels_last_bf16_agrees_with_cpu(lite0):
    gpu = backbones.load_backbone(device="cuda")
    assert gpu.device.type == "cuda" and gpu.autocast
    stem = gpu.model._conv_stem.weight
    assert stem.is_contiguous(memory_format=torch.channels_last)
    x = _images(4)
    cpu = lite0.forward(x)
    out = gpu.forward(x)
    assert out.dtype == torch.float32 and out.device.type == "cuda"
    scale = cpu.abs().max().item()
    assert (out.cpu() - cpu).abs().max().item() / scale < 0.05
    exact = gpu.forward(x, autocast=False).cpu()
    assert (exact - cpu).abs().max().item() / scale < 1e-3
