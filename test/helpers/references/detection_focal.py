"""Reference focal losses of the detection and segmentation libraries, written anew in PyTorch from
their public sources (none of these libraries can be installed here). Each function states the
source it follows: repository, file, and the commit (or release) that was read. Everything is plain
torch, so autograd gives the gradients the fixtures compare with.

    mmdet       open-mmlab/mmdetection  mmdet/models/losses/focal_loss.py and utils.py
                (weight_reduce_loss), commit d898526f39da8348670789fba2abba13c8fcd436 (2.x):
                FocalLoss(use_sigmoid=True) on the CPU: one_hot(target, C + 1)[:, :C], then
                py_sigmoid_focal_loss: BCE-with-logits x alpha_t x (1 - p_t)^gamma; the mean, or
                sum / (avg_factor + float32 eps) when avg_factor is given.
    detectron2  facebookresearch/detectron2  detectron2/modeling/meta_arch/retinanet.py (losses),
                commit 02b5c4e295e990042a714712c21dc79b731e8833: anchors labelled -1 dropped,
                one_hot(labels, K + 1)[:, :-1], fvcore's sigmoid_focal_loss summed, divided by
                max(1, number of positive anchors) (here without its moving average).
    fvcore      facebookresearch/fvcore  fvcore/nn/focal_loss.py, commit
                3378afe0d71dc2aa95e358bc78dc9b67cb48825a: sigmoid_focal_loss (alpha -1 = none) and
                sigmoid_focal_loss_star: -logsigmoid(gamma * x * (2t - 1)) / gamma x alpha_t.
    smp         qubvel-org/segmentation_models.pytorch  losses/focal.py and _functional.py, release
                v0.5.0: focal_loss_with_logits (p_t = exp(-BCE), reduced_threshold, normalized with
                clamp_min(1e-6)); binary / multilabel flatten and drop ignore_index; multiclass sums
                the one-vs-rest sigmoid loss of each class over the rows not ignored.
    kornia      kornia/kornia  kornia/losses/focal.py and _utils.py (mask_ignore_pixels), 0.9.0rc1
                (commit b4f5a78a13891c7ac4c1cd9695941380273e981d): binary_focal_loss_with_logits
                (log-sigmoid form, pos_weight, weight per class on axis 1, ignored elements
                multiplied by 0 and still counted by the mean); focal_loss (multiclass: log-softmax,
                alpha_fac [1 - alpha, alpha, ...], weight, mean over N x C).
    (MONAI: no hand-written reference; its own monai/losses/focal_loss.py runs in
    scripts/make-source-fixtures.py.)

Shapes follow focal-onnx: pred [N, L] (a library's channel axis 1), index targets [N].
"""
import torch
import torch.nn.functional as F

F32_EPS = float(torch.finfo(torch.float32).eps)


# ---- mmdet --------------------------------------------------------------------------------------------
def mmdet_focal_loss(pred, target, weight=None, gamma=2.0, alpha=0.25, reduction="mean", avg_factor=None, loss_weight=1.0):
    """mmdet FocalLoss(use_sigmoid=True).forward, the CPU path: index targets in [0, C], C the background."""
    num_classes = pred.size(1)
    onehot = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes].type_as(pred)
    p = pred.sigmoid()
    one_minus_pt = (1 - p) * onehot + p * (1 - onehot)
    focal_weight = (alpha * onehot + (1 - alpha) * (1 - onehot)) * one_minus_pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, onehot, reduction="none") * focal_weight
    if weight is not None:
        if weight.shape != loss.shape:
            weight = weight.view(-1, 1)  # one weight per prior (anchor)
        loss = loss * weight
    if avg_factor is None:
        loss = {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()
    elif reduction == "mean":
        loss = loss.sum() / (avg_factor + F32_EPS)
    elif reduction != "none":
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return loss_weight * loss


# ---- fvcore -------------------------------------------------------------------------------------------
def fvcore_sigmoid_focal_loss(inputs, targets, alpha=-1.0, gamma=2.0, reduction="none"):
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def fvcore_sigmoid_focal_loss_star(inputs, targets, alpha=-1.0, gamma=1.0, reduction="none"):
    loss = -F.logsigmoid(gamma * (inputs * (2 * targets - 1))) / gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return _reduce(loss, reduction)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ---- detectron2 ---------------------------------------------------------------------------------------
def detectron2_retinanet_cls_loss(pred_logits, gt_labels, alpha=0.25, gamma=2.0):
    """RetinaNet.losses' loss_cls for one image's anchors: pred [R, K], labels [R] in {-1} U [0, K]."""
    num_classes = pred_logits.size(1)
    valid = gt_labels >= 0
    num_pos = int(((gt_labels >= 0) & (gt_labels != num_classes)).sum().item())
    normalizer = max(num_pos, 1)
    target = F.one_hot(gt_labels[valid], num_classes=num_classes + 1)[:, :-1].to(pred_logits.dtype)
    loss = fvcore_sigmoid_focal_loss(pred_logits[valid], target, alpha=alpha, gamma=gamma, reduction="sum")
    return loss / normalizer


# ---- smp (v0.5.0) -------------------------------------------------------------------------------------
def smp_focal_loss_with_logits(output, target, gamma=2.0, alpha=0.25, reduction="mean", normalized=False, reduced_threshold=None, eps=1e-6):
    target = target.to(output.dtype)
    logpt = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    pt = torch.exp(-logpt)
    if reduced_threshold is None:
        focal_term = (1.0 - pt).pow(gamma)
    else:
        focal_term = ((1.0 - pt) / reduced_threshold).pow(gamma)
        focal_term = torch.where(pt < reduced_threshold, torch.ones_like(focal_term), focal_term)
    loss = focal_term * logpt
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    if normalized:
        loss = loss / focal_term.sum().clamp_min(eps)
    return _reduce(loss, reduction)


def smp_focal_loss(mode, y_pred, y_true, alpha=None, gamma=2.0, ignore_index=None, reduction="mean", normalized=False, reduced_threshold=None):
    """smp FocalLoss(mode, ...)(y_pred, y_true), v0.5.0."""
    fn = lambda p, t: smp_focal_loss_with_logits(p, t, gamma=gamma, alpha=alpha, reduction=reduction, normalized=normalized, reduced_threshold=reduced_threshold)
    if mode in ("binary", "multilabel"):
        y_true = y_true.reshape(-1)
        y_pred = y_pred.reshape(-1)
        if ignore_index is not None:
            keep = y_true != ignore_index
            y_pred = y_pred[keep]
            y_true = y_true[keep]
        return fn(y_pred, y_true)
    num_classes = y_pred.size(1)
    loss = 0
    keep = y_true != ignore_index if ignore_index is not None else None
    for cls in range(num_classes):
        cls_true = (y_true == cls).long()
        cls_pred = y_pred[:, cls]
        if keep is not None:
            cls_true = cls_true[keep]
            cls_pred = cls_pred[keep]
        loss = loss + fn(cls_pred, cls_true)
    return loss


# ---- kornia (0.9.0rc1) --------------------------------------------------------------------------------
def _mask_ignore(target, ignore_index):
    if ignore_index is None:
        return target, None
    mask = target != ignore_index
    return target.where(mask, target.new_zeros(1)), mask


def kornia_binary_focal_loss_with_logits(pred, target, alpha=0.25, gamma=2.0, reduction="none", pos_weight=None, weight=None, ignore_index=-100):
    log_pos = F.logsigmoid(pred)
    log_neg = F.logsigmoid(-pred)
    target, mask = _mask_ignore(target, ignore_index)
    if mask is not None:
        log_neg = log_neg * mask
        log_pos = log_pos * mask
    pos_term = -log_neg.exp().pow(gamma) * target * log_pos
    neg_term = -log_pos.exp().pow(gamma) * (1.0 - target) * log_neg
    if alpha is not None:
        pos_term = alpha * pos_term
        neg_term = (1.0 - alpha) * neg_term
    dims = [-1] + [1] * len(pred.shape[2:])
    if pos_weight is not None:
        pos_term = pos_weight.view(dims) * pos_term
    loss = pos_term + neg_term
    if weight is not None:
        loss = weight.view(dims) * loss
    return _reduce(loss, reduction)


def kornia_focal_loss(pred, target, alpha, gamma=2.0, reduction="none", weight=None, ignore_index=-100):
    target, mask = _mask_ignore(target, ignore_index)
    onehot = F.one_hot(target, num_classes=pred.shape[1]).to(pred.dtype)
    if mask is not None:
        onehot = onehot * mask.unsqueeze(1)
    log_soft = pred.log_softmax(1)
    loss = -torch.pow(1.0 - log_soft.exp(), gamma) * log_soft * onehot
    C = pred.shape[1]
    if alpha is not None:
        loss = torch.tensor([1 - alpha] + [alpha] * (C - 1), dtype=loss.dtype) * loss
    if weight is not None:
        loss = weight * loss
    return _reduce(loss, reduction)


# ---- PyTorch ------------------------------------------------------------------------------------------
def torch_bce_with_logits(pred, target, pos_weight=None, reduction="mean"):
    return F.binary_cross_entropy_with_logits(pred, target, pos_weight=pos_weight, reduction=reduction)
