"""Loads the libraries' own focal-loss source files from a directory outside the repository
(`--sources DIR` of scripts/make-source-fixtures.py and scripts/make-detection-fixtures.py), with
small stand-ins (written here, our own code) for the package imports those files make.

DIR holds one folder per library, each with the files it names and a COMMIT file (its first word
the commit the files were fetched at; an excerpt without one names its commit in its header):

    monai/       focal_loss.py                          Project-MONAI/MONAI monai/losses/
    smp/         focal.py _functional.py constants.py   qubvel-org/segmentation_models.pytorch
    smp-0.5.0/   the same three files at the tag v0.5.0   segmentation_models_pytorch/losses/
    kornia/      focal.py                               kornia/kornia kornia/losses/
    fvcore/      focal_loss.py                          facebookresearch/fvcore fvcore/nn/
    mmdet/       focal_loss_parts.py (an excerpt)       open-mmlab/mmdetection 2.x (d898526f)
    mmdet3/      focal_loss_parts.py (an excerpt)       mmdetection 3.x (a copy: eugene123tw/mmdet3.x)
    detectron2/  retinanet.py dense_detector.py         facebookresearch/detectron2
                                                        detectron2/modeling/meta_arch/

Nothing of those files is copied into this repository: the generators write only the numbers
they compute, each case naming the library, the file and the commit it ran.
"""
import contextlib
import enum
import importlib.util
import os
import re
import sys
import types

import torch
import torch.nn.functional as F

F64 = torch.float64


def commit_of(lib_dir, file_path):
    """The commit in DIR/COMMIT (its first word), else the one an excerpt's header names."""
    c = os.path.join(lib_dir, "COMMIT")
    if os.path.exists(c):
        return open(c).read().split()[0]
    m = re.search(r"\b([0-9a-f]{40})\b", open(file_path).read(4000))
    if not m:
        raise SystemExit(f"{file_path}: no COMMIT file and no commit named in its header")
    return m.group(1)


def load(name, path, package=None):
    if not os.path.exists(path):
        raise SystemExit(f"--sources: {path} does not exist (DIR/<lib>/<file>, fetched from the library's repository)")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    if package:
        mod.__package__ = package
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__path__ = []  # a package, so submodules and relative imports resolve through sys.modules
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


@contextlib.contextmanager
def float_keeps_float64():
    """While a library's function runs: Tensor.float() leaves a float64 tensor as it is."""
    original = torch.Tensor.float

    def keep(self, *a, **k):
        return self if self.dtype == F64 else original(self, *a, **k)

    torch.Tensor.float = keep
    try:
        yield
    finally:
        torch.Tensor.float = original


def in_float64(fn):
    def run(*a, **k):
        with float_keeps_float64():
            return fn(*a, **k)
    return run


def lib_info(name, file, lib_dir, path, note=None):
    info = {"name": name, "file": file, "commit": commit_of(lib_dir, path)}
    if note:
        info["note"] = note
    return info


# ---- MONAI ------------------------------------------------------------------------------------------------

class LossReduction(enum.Enum):
    """monai.utils.LossReduction's values, as its focal loss compares them (`.value`)."""
    NONE = "none"
    MEAN = "mean"
    SUM = "sum"


def monai_one_hot(labels, num_classes, dtype=torch.float, dim=1):
    """monai.networks.one_hot for [B, 1, ...] labels: the one-hot on axis `dim`."""
    shape = list(labels.shape)
    shape[dim] = num_classes
    out = torch.zeros(shape, dtype=dtype)
    return out.scatter_(dim, labels.long(), 1)


def load_monai(src):
    path = os.path.join(src, "monai", "focal_loss.py")
    stub("monai")
    stub("monai.networks", one_hot=monai_one_hot)
    stub("monai.utils", LossReduction=LossReduction)
    mod = load("monai_focal_loss_src", path)
    return mod, lib_info("MONAI", "monai/losses/focal_loss.py", os.path.join(src, "monai"), path,
                         "Tensor.float() kept float64 while MONAI ran (it casts to float32), so these are its formula in float64")


# ---- segmentation_models_pytorch -----------------------------------------------------------------------

def load_smp(src, folder="smp"):
    """smp's losses/focal.py with its relative imports (_functional, constants) as a package of its own."""
    d = os.path.join(src, folder)
    package = folder.replace("-", "_").replace(".", "_") + "_losses_src"
    stub(package)
    load(f"{package}.constants", os.path.join(d, "constants.py"), package)
    load(f"{package}._functional", os.path.join(d, "_functional.py"), package)
    mod = load(f"{package}.focal", os.path.join(d, "focal.py"), package)
    return mod, lib_info("segmentation_models_pytorch", "segmentation_models_pytorch/losses/focal.py (+ _functional.py, constants.py)", d,
                         os.path.join(d, "focal.py"))


# ---- kornia ---------------------------------------------------------------------------------------------

def kornia_check(condition, msg=None, raises=True):
    """kornia.core.check.KORNIA_CHECK: raise when the condition fails."""
    if not condition:
        raise Exception(msg)
    return True


def kornia_check_is_tensor(x, msg=None, raises=True):
    if not isinstance(x, torch.Tensor):
        raise TypeError(msg)
    return True


def kornia_check_shape(x, shape, raises=True):
    """KORNIA_CHECK_SHAPE, enough for the focal losses: the rank ('*' any number of trailing axes)."""
    if "*" not in shape and x.dim() != len(shape):
        raise TypeError(f"{x.shape} is not {shape}")
    return True


def kornia_mask_ignore_pixels(target, ignore_index):
    """kornia.losses._utils.mask_ignore_pixels: ignored targets set to 0, and the mask of the others (None without ignore_index)."""
    if ignore_index is None:
        return target, None
    mask = target != ignore_index
    return target.where(mask, target.new_zeros(1)), mask


def kornia_one_hot(labels, num_classes, device=None, dtype=None):
    """kornia.losses.one_hot: the one-hot of [B, *] labels on axis 1, [B, C, *]."""
    return F.one_hot(labels, num_classes=num_classes).movedim(-1, 1).to(dtype)


def load_kornia(src):
    d = os.path.join(src, "kornia")
    stub("kornia")
    stub("kornia.core")
    stub("kornia.core.check", KORNIA_CHECK=kornia_check, KORNIA_CHECK_IS_TENSOR=kornia_check_is_tensor, KORNIA_CHECK_SHAPE=kornia_check_shape)
    stub("kornia.losses")
    stub("kornia.losses._utils", mask_ignore_pixels=kornia_mask_ignore_pixels)
    stub("kornia.losses.one_hot", one_hot=kornia_one_hot)
    mod = load("kornia_focal_src", os.path.join(d, "focal.py"))
    return mod, lib_info("kornia", "kornia/losses/focal.py", d, os.path.join(d, "focal.py"))


# ---- mmdetection ------------------------------------------------------------------------------------------

def load_mmdet(src, folder="mmdet"):
    """An excerpt of mmdet's focal_loss.py + utils.py (it imports only torch): `mmdet` 2.x at
    d898526f (weight_reduce_loss without eps), `mmdet3` 3.x (with the float32 eps on avg_factor)."""
    path = os.path.join(src, folder, "focal_loss_parts.py")
    mod = load(f"{folder}_focal_loss_src", path)
    what = "mmdet/models/losses/focal_loss.py (py_sigmoid_focal_loss, the CPU path) + utils.py (weight_reduce_loss)"
    return mod, lib_info("mmdetection", what, os.path.join(src, folder), path)


# ---- fvcore ---------------------------------------------------------------------------------------------

def load_fvcore(src):
    path = os.path.join(src, "fvcore", "focal_loss.py")
    mod = load("fvcore_focal_loss_src", path)
    return mod, lib_info("fvcore", "fvcore/nn/focal_loss.py", os.path.join(src, "fvcore"), path,
                         "Tensor.float() kept float64 while fvcore ran (it casts to float32), so these are its formula in float64")


# ---- detectron2 -----------------------------------------------------------------------------------------

class _Anything:
    """A name retinanet.py / dense_detector.py import that RetinaNet.losses never calls."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        raise RuntimeError("a detectron2 stand-in that RetinaNet.losses does not use was called")


class _Registry:
    def register(self, *a, **k):
        return lambda cls: cls


class _EventStorage:
    """detectron2.utils.events' storage: losses() puts num_pos_anchors in it; kept for the caller to read."""

    def __init__(self):
        self.scalars = {}

    def put_scalar(self, name, value, *a, **k):
        self.scalars[name] = value


def load_detectron2(src, fvcore_mod):
    """detectron2's meta_arch/retinanet.py with its base class from dense_detector.py (both at the
    commit in DIR/detectron2/COMMIT), the package imports stood in for. RetinaNet.losses calls
    fvcore's sigmoid_focal_loss_jit (torch.jit.script of sigmoid_focal_loss, whose Tensor.float()
    TorchScript keeps float32): the stand-in is fvcore's own sigmoid_focal_loss from DIR/fvcore,
    unscripted, with Tensor.float() keeping float64. The box regression loss is not computed (its
    stand-in returns 0): only loss_cls is read."""
    d = os.path.join(src, "detectron2")
    storage = _EventStorage()
    stub("fvcore")
    stub("fvcore.nn", sigmoid_focal_loss_jit=in_float64(fvcore_mod.sigmoid_focal_loss))
    stub("detectron2")
    stub("detectron2.config", configurable=lambda f: f)
    stub("detectron2.layers", CycleBatchNormList=_Anything, ShapeSpec=_Anything, batched_nms=_Anything(), cat=lambda ts, dim=0: torch.cat(ts, dim),
         get_norm=_Anything(), move_device_like=_Anything())
    stub("detectron2.structures", Boxes=_Anything, ImageList=_Anything, Instances=_Anything, pairwise_iou=_Anything())
    stub("detectron2.utils")
    stub("detectron2.utils.events", get_event_storage=lambda: storage)
    stub("detectron2.data")
    stub("detectron2.data.detection_utils", convert_image_to_rgb=_Anything())
    stub("detectron2.modeling", Backbone=torch.nn.Module)
    stub("detectron2.modeling.anchor_generator", build_anchor_generator=_Anything())
    stub("detectron2.modeling.backbone", Backbone=torch.nn.Module, build_backbone=_Anything())
    stub("detectron2.modeling.box_regression", Box2BoxTransform=_Anything,
         _dense_box_regression_loss=lambda *a, **k: torch.zeros((), dtype=F64))
    stub("detectron2.modeling.matcher", Matcher=_Anything)
    stub("detectron2.modeling.postprocessing", detector_postprocess=_Anything())
    stub("detectron2.modeling.meta_arch")
    stub("detectron2.modeling.meta_arch.build", META_ARCH_REGISTRY=_Registry())
    load("detectron2.modeling.meta_arch.dense_detector", os.path.join(d, "dense_detector.py"), "detectron2.modeling.meta_arch")
    mod = load("detectron2.modeling.meta_arch.retinanet", os.path.join(d, "retinanet.py"), "detectron2.modeling.meta_arch")
    info = lib_info("detectron2", "detectron2/modeling/meta_arch/retinanet.py (RetinaNet.losses' loss_cls) + dense_detector.py (_ema_update)", d,
                    os.path.join(d, "retinanet.py"),
                    "fvcore's sigmoid_focal_loss (from its file) unscripted, Tensor.float() kept float64: its formula in float64")
    return mod, info, storage
