"""YOLOv8 detection loss, written from the papers and the published recipe.

- Task-aligned assigner (TOOD): for each ground-truth box, the top-k anchors inside it by
  score^alpha * IoU^beta become positives; an anchor claimed by several boxes keeps the one it
  overlaps most. Targets are soft: one-hot class times the normalised alignment metric.
- Classification: BCE against those soft targets, summed and divided by the target-score sum.
- Box: CIoU loss on positives and distribution focal loss (DFL) on the ltrb distances, both weighted
  by the target score. Gains 7.5 (box), 0.5 (cls), 1.5 (dfl), times the batch size, as YOLOv8.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model import REG_MAX, STRIDES, make_anchors


def bbox_ciou(b1: torch.Tensor, b2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Complete IoU of matching xyxy boxes [..., 4] -> [...]."""
    b1_x1, b1_y1, b1_x2, b1_y2 = b1.unbind(-1)
    b2_x1, b2_y1, b2_x2, b2_y2 = b2.unbind(-1)
    w1, h1 = b1_x2 - b1_x1, (b1_y2 - b1_y1).clamp(eps)
    w2, h2 = b2_x2 - b2_x1, (b2_y2 - b2_y1).clamp(eps)
    inter = (b1_x2.minimum(b2_x2) - b1_x1.maximum(b2_x1)).clamp(0) * (b1_y2.minimum(b2_y2) - b1_y1.maximum(b2_y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = b1_x2.maximum(b2_x2) - b1_x1.minimum(b2_x1)
    ch = b1_y2.maximum(b2_y2) - b1_y1.minimum(b2_y1)
    c2 = cw.pow(2) + ch.pow(2) + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2).pow(2) + (b2_y1 + b2_y2 - b1_y1 - b1_y2).pow(2)) / 4
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


class TaskAlignedAssigner(nn.Module):
    def __init__(self, nc: int, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9) -> None:
        super().__init__()
        self.nc, self.topk, self.alpha, self.beta, self.eps = nc, topk, alpha, beta, eps

    @torch.no_grad()
    def forward(
        self, pd_scores: torch.Tensor, pd_bboxes: torch.Tensor, anc_points: torch.Tensor,
        gt_labels: torch.Tensor, gt_bboxes: torch.Tensor, mask_gt: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """pd_scores [b,A,nc] (sigmoid), pd_bboxes [b,A,4] xyxy px, anc_points [A,2] px,
        gt_labels [b,M,1], gt_bboxes [b,M,4] xyxy px, mask_gt [b,M,1].
        Returns target_bboxes [b,A,4], target_scores [b,A,nc], fg_mask [b,A], target_gt_idx [b,A]."""
        bs, n_max = gt_bboxes.shape[:2]
        na = pd_bboxes.shape[1]
        dev = pd_scores.device
        if n_max == 0:
            return (torch.zeros_like(pd_bboxes), torch.zeros_like(pd_scores),
                    torch.zeros(bs, na, dtype=torch.bool, device=dev), torch.zeros(bs, na, dtype=torch.long, device=dev))
        # Anchors whose centre lies inside a gt box.
        lt, rb = gt_bboxes.view(-1, 1, 4).chunk(2, 2)
        deltas = torch.cat((anc_points[None] - lt, rb - anc_points[None]), 2).view(bs, n_max, na, 4)
        mask_in = deltas.amin(3).gt_(self.eps) * mask_gt  # [b,M,A]
        # Alignment metric.
        mask = mask_in.bool()
        overlaps = torch.zeros(bs, n_max, na, dtype=pd_bboxes.dtype, device=dev)
        scores = torch.zeros(bs, n_max, na, dtype=pd_scores.dtype, device=dev)
        b_idx = torch.arange(bs, device=dev).view(-1, 1).expand(-1, n_max)
        scores[mask] = pd_scores[b_idx, :, gt_labels.squeeze(-1).long()][mask]
        pd = pd_bboxes.unsqueeze(1).expand(-1, n_max, -1, -1)[mask]
        gt = gt_bboxes.unsqueeze(2).expand(-1, -1, na, -1)[mask]
        overlaps[mask] = bbox_ciou(gt, pd).clamp_(0).to(overlaps.dtype)
        align = scores.pow(self.alpha) * overlaps.pow(self.beta)
        # Top-k anchors per gt.
        topk_idx = torch.topk(align, self.topk, dim=-1, largest=True).indices  # [b,M,k]
        topk_idx.masked_fill_(~mask_gt.bool().expand(-1, -1, self.topk), 0)
        count = torch.zeros(align.shape, dtype=torch.int8, device=dev)
        ones = torch.ones_like(topk_idx[:, :, :1], dtype=torch.int8)
        for k in range(self.topk):
            count.scatter_add_(-1, topk_idx[:, :, k : k + 1], ones)
        count.masked_fill_(count > 1, 0)
        mask_pos = count.to(align.dtype) * mask_in * mask_gt  # [b,M,A]
        # An anchor assigned to several gts keeps the one of highest overlap.
        fg = mask_pos.sum(-2)
        if fg.max() > 1:
            multi = (fg.unsqueeze(1) > 1).expand(-1, n_max, -1)
            best = torch.zeros_like(mask_pos)
            best.scatter_(1, overlaps.argmax(1).unsqueeze(1), 1)
            mask_pos = torch.where(multi, best, mask_pos)
            fg = mask_pos.sum(-2)
        target_gt_idx = mask_pos.argmax(-2)  # [b,A]
        flat_idx = target_gt_idx + torch.arange(bs, device=dev).view(-1, 1) * n_max
        target_labels = gt_labels.long().flatten()[flat_idx].clamp_(0)
        target_bboxes = gt_bboxes.view(-1, 4)[flat_idx]
        target_scores = F.one_hot(target_labels, self.nc).to(pd_scores.dtype)
        fg_mask = fg > 0
        target_scores = torch.where(fg_mask.unsqueeze(-1), target_scores, 0)
        # Normalise: the best anchor of each gt gets that gt's best IoU as its score.
        align = align * mask_pos
        pos_align = align.amax(-1, keepdim=True)
        pos_overlap = (overlaps * mask_pos).amax(-1, keepdim=True)
        norm = (align * pos_overlap / (pos_align + self.eps)).amax(-2).unsqueeze(-1)
        return target_bboxes, target_scores * norm, fg_mask, target_gt_idx


class DetectionLoss:
    def __init__(self, nc: int, box_gain: float = 7.5, cls_gain: float = 0.5, dfl_gain: float = 1.5) -> None:
        self.nc = nc
        self.gains = (box_gain, cls_gain, dfl_gain)
        self.assigner = TaskAlignedAssigner(nc)
        self.proj: torch.Tensor | None = None

    def __call__(self, feats: list[torch.Tensor], targets: torch.Tensor, imgsz: int) -> tuple[torch.Tensor, torch.Tensor]:
        """feats: raw head maps; targets [N, 6]: batch index, class, x1, y1, x2, y2 in input pixels.
        Returns (loss x batch size, detached [box, cls, dfl])."""
        b = feats[0].shape[0]
        dev = feats[0].device
        no = self.nc + 4 * REG_MAX
        pred = torch.cat([f.view(b, no, -1) for f in feats], 2).float()
        pred_distri, pred_scores = pred.split((4 * REG_MAX, self.nc), 1)
        pred_distri, pred_scores = pred_distri.permute(0, 2, 1).contiguous(), pred_scores.permute(0, 2, 1).contiguous()
        shapes = [(int(f.shape[2]), int(f.shape[3])) for f in feats]
        anchors, strides = make_anchors(shapes, STRIDES, dev, torch.float32)
        # Pad targets to [b, M, 5].
        counts = torch.bincount(targets[:, 0].long(), minlength=b) if targets.numel() else torch.zeros(b, dtype=torch.long, device=dev)
        m = int(counts.max().item()) if targets.numel() else 0
        gt = torch.zeros(b, m, 5, device=dev)
        if m:
            order = torch.argsort(targets[:, 0], stable=True)
            t = targets[order]
            bi = t[:, 0].long()
            starts = torch.cumsum(counts, 0) - counts
            slot = torch.arange(t.shape[0], device=dev) - starts[bi]
            gt[bi, slot] = t[:, 1:6]
        gt_labels, gt_bboxes = gt.split((1, 4), 2)
        mask_gt = gt_bboxes.sum(2, keepdim=True).gt_(0)
        if self.proj is None or self.proj.device != dev:
            self.proj = torch.arange(REG_MAX, dtype=torch.float32, device=dev)
        dist = pred_distri.view(b, -1, 4, REG_MAX).softmax(3).matmul(self.proj)
        lt, rb = dist.chunk(2, -1)
        pred_bboxes = torch.cat((anchors - lt, anchors + rb), -1)  # grid units
        target_bboxes, target_scores, fg_mask, _ = self.assigner(
            pred_scores.detach().sigmoid(), (pred_bboxes.detach() * strides).to(gt_bboxes.dtype), anchors * strides,
            gt_labels, gt_bboxes, mask_gt,
        )
        ts_sum = max(target_scores.sum(), 1)
        loss = torch.zeros(3, device=dev)
        loss[1] = F.binary_cross_entropy_with_logits(pred_scores, target_scores.to(pred_scores.dtype), reduction="none").sum() / ts_sum
        if fg_mask.any():
            target_bboxes = target_bboxes / strides
            weight = target_scores.sum(-1)[fg_mask].unsqueeze(-1)
            iou = bbox_ciou(pred_bboxes[fg_mask], target_bboxes[fg_mask]).unsqueeze(-1)
            loss[0] = ((1.0 - iou) * weight).sum() / ts_sum
            tl, tr = target_bboxes.chunk(2, -1)
            target_ltrb = torch.cat((anchors - tl, tr - anchors), -1).clamp_(0, REG_MAX - 1 - 0.01)
            loss[2] = (self._dfl(pred_distri[fg_mask].view(-1, REG_MAX), target_ltrb[fg_mask]) * weight).sum() / ts_sum
        loss[0] *= self.gains[0]
        loss[1] *= self.gains[1]
        loss[2] *= self.gains[2]
        return loss.sum() * b, loss.detach()

    @staticmethod
    def _dfl(pred_dist: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Distribution focal loss: cross-entropy to the two bins around the target, linearly weighted."""
        tl = target.long()
        tr = tl + 1
        wl = tr - target
        wr = 1 - wl
        ce_l = F.cross_entropy(pred_dist, tl.view(-1), reduction="none").view(tl.shape)
        ce_r = F.cross_entropy(pred_dist, tr.view(-1), reduction="none").view(tl.shape)
        return (ce_l * wl + ce_r * wr).mean(-1, keepdim=True)
