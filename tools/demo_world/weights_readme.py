"""Write weights/README.md from weights/demo-world.json (run by train.py's export stage)."""

import json
import os

import world

HOW = """\
# Bundled demo weights

`gan-bias probe --feature Male` runs on these when no weights are named. They are the
notebook's two architectures, trained by this project on a synthetic world of cartoon faces
whose biases were planted on purpose, so that a probe's answer can be checked against the
truth (`gan-bias probe` prints the planted correlations beside the measured ones).

| file | architecture | what it is |
|---|---|---|
| `demo_generator.safetensors` | the notebook's `Generator` (`coursera`: z_dim 64, hidden 64, 64x64 RGB, Tanh) | f16, metadata `gan_bias.arch`, `gan_bias.features` |
| `demo_classifier.safetensors` | the notebook's `Classifier` (40 outputs, hidden 64) | f16, metadata `gan_bias.arch`, `gan_bias.features` |
| `demo-world.json` | the world's record | features, factors and loadings, prevalences, the planted 40 x 40 label correlation (training set), validation AUCs, training record, sha256 |
| `demo-eval.png`, `demo-eval.txt` | the labelled evaluation set | 2000 rendered faces (one sheet of 64x64 tiles) and their true labels (CelebA's label-file layout); see below |

## The world

`tools/demo_world/` renders 64x64 faces from a latent code z ~ N(0, I_64) (`world.py`,
`render.py`): three factors (sex, age, expression) in z[0:3], one private noise per
attribute in z[3:43], nuisances (colours, position, hair length) in z[43:64]. Each
attribute's score is a mix of at most one factor and its own noise; its label is the score
above a threshold (chosen prevalence) and its drawn intensity a sigmoid of the same score, so
beards thicken, lipstick reddens and smiles widen continuously. The loadings mimic CelebA's
known biases: Male goes with beard, mustache, goatee, sideburns, stubble, baldness, bushy
eyebrows and necktie, and against lipstick, makeup, earrings, necklace, bangs, wavy and blond
hair and arched eyebrows; age against Young and with gray hair, a receding hairline, eye
bags, a double chin and chubbiness; expression with smiling, an open mouth, high
cheekbones, rosy cheeks and narrow eyes. Eyeglasses, hats, blur, pale skin, big lips, a big
nose, an oval face and black or brown hair load on no factor. {not_drawn} are labels with no
visual cue and no factor: the classifier can learn nothing from them (AUC near 0.5), which is
itself a check.

## How they were trained

`python tools/demo_world/train.py` (numpy + PyTorch {torch}, CPU, 2 threads, seeded):

1. renders {train} training and {val} validation faces;
2. the classifier: BCE with logits on the 40 labels, Adam with a one-cycle schedule,
   {csteps} steps of 128 images ({cmin:.0f} min);
3. the generator: **not a GAN** but a decoder trained by regression: `G(z)` is fitted to the
   renderer's own picture of the same z (L1 + L2 loss, Adam, {gsteps} steps of 64 codes,
   {gmin:.0f} min; BatchNorm statistics recomputed afterwards). So `G(z)` for z ~ N(0, I)
   draws this world with its planted statistics by construction; its pictures are a little
   softer than the renderer's (validation mean |G(z) - render(z)| = {gl1} on a [-1, 1] scale);
4. the classifier again, tuned on the pictures a probe will show it: {tsteps} more steps of
   128 images, 96 of them the generator's pictures of fresh codes z ~ N(0, I) and 32 rendered
   faces ({tmin:.0f} min). The targets of this stage are soft: still BCE with logits, but
   against how strongly the world draws each attribute for that code (`world.shown`: the
   drawn intensity, with gray hair covering the colour and a bald head showing no fringe,
   hairline, waves or colour), whose logit is the attribute's score. The classifier's logit
   then grows with a beard's thickness instead of saturating once a beard is there. Without
   this stage the classifier misreads the generator's softer hair and skin and saturates
   where a probe needs it to move, and a probe reports those misreadings as correlations the
   world never planted;
5. exports both as f16 safetensors and writes `demo-world.json` and this file.

The labelled evaluation set is made afterwards, from the exported classifier:
`python tools/demo_world/eval_set.py` (below).

Total training time: about {total:.0f} minutes on the 2-core development machine.

## Validation AUC per attribute

"val" is the (tuned) classifier on {val} rendered validation faces; "on G" is the same classifier on
4000 generator pictures of fresh codes, against those codes' labels.{eval_note}

| attribute | drawn | factors | val AUC | on G |{eval_head}
|---|---|---|---|---|{eval_rule}
{rows}
{eval_section}
## sha256

| file | sha256 |
|---|---|
{shas}

Every stage is seeded and runs on the CPU, and the export writes its keys in a fixed order, so
training again from scratch (`python3 tools/demo_world/train.py --stage all`) with the same
PyTorch gives the same bytes; only the timings above differ. Checked for the weights above with
PyTorch 2.15 on the 2-core development machine: two trainings, identical files.

## Recovery of the planted correlations

How a probe on these weights grades against the planted truth, per target feature:
see the main README ("The bundled demo world"), made by
`python3 tools/demo_world/recovery_table.py --images 128 --steps 10`, the size
`tests/demo_world.rs` runs (run it after training).
"""


EVAL = """
## The labelled evaluation set

`demo-eval.png` and `demo-eval.txt` are {images} faces of this world with their true labels,
for auditing the classifier (`gan-bias audit`) on data whose truth is known. The latent codes
are z ~ N(0, I_64) from numpy's `default_rng({seed})`, a seed no training stage uses; each face
is rendered exactly as the training faces are (`render.py`, rounded to 8 bits) and labelled by
the world itself (`world.attributes`), not by the classifier. None of the codes was used by
any stage of the training: the script replays every code `train.py` draws (the {train} + {val}
train and validation codes, the tuning stage's 96 fresh codes a step, the export's 4000 codes
of the "on G" column) and checks the distances; the nearest training code to any evaluation
code is {nearest:.2f} away (two independent draws of N(0, I_64) are typically about 11 apart).

- `demo-eval.png`: one RGB PNG of 64x64 tiles, {per_row} a row, row-major, no padding
  ({width} x {height}); tile k (0-based) is the k-th image of the label file.
- `demo-eval.txt`: CelebA's `list_attr_celeba.txt` layout: the number of images, the
  attribute names (the classifier's 40 features, in its order), then one line per image,
  `0001.png  1 -1 ...` (1 has the attribute, -1 has not).

`gan_bias::dataset::Dataset::from_sheet` reads the pair. Regenerate both (and this section)
with `python tools/demo_world/eval_set.py`; the same numpy, Pillow and zlib give the same
bytes:

| file | sha256 |
|---|---|
{shas}

"eval" in the table above is the bundled classifier's AUC on these {images} faces, computed by
that script with PyTorch. It agrees with "val" to within sampling error: for the attributes the
world draws, the largest |eval - val| is {diff:.4f}, and the standard error of that difference
(Hanley and McNeil's, from both sets' counts) is at most {se:.4f}; the largest difference in those
units is {most_name}'s, {most:.1f}. The three attributes the world does not draw ({not_drawn}) are
near 0.5, as they must be: a picture says nothing of them, and an AUC of no information has a
standard error of {null_lo:.3f} to {null_hi:.3f} at their prevalences and n = {images}.
`tests/dataset/demo_eval.rs` computes the same AUCs in Rust and checks them against the "val"
column of this file.
"""

STALE = """
## The labelled evaluation set

`demo-eval.png` and `demo-eval.txt` were made for another classifier than the one above (or not
at all): run `python tools/demo_world/eval_set.py` to remake them and this section.
"""


def eval_parts(d):
    """The table's "eval" column pieces and the evaluation set's section, from d["eval_set"]
    when it was made with the classifier d records; else no column and a note to remake it."""
    e = d.get("eval_set")
    if not e or e["sha256"].get("demo_classifier.safetensors") != d["sha256"]["demo_classifier.safetensors"]:
        return None, {"eval_note": "", "eval_head": "", "eval_rule": "", "eval_section": STALE}
    t = d["training"]
    per_row = 50
    section = EVAL.format(
        images=e["images"], seed=e["numpy_seed"], train=t["train_images"], val=t["val_images"],
        nearest=min(e["nearest_training_code_distance"].values()), per_row=per_row, width=per_row * 64,
        height=-(-e["images"] // per_row) * 64, not_drawn=", ".join(d["not_drawn"]),
        diff=e["agreement_with_val"]["largest_difference"], se=e["agreement_with_val"]["largest_se_of_difference"],
        most_name=e["agreement_with_val"]["most_se"][0], most=e["agreement_with_val"]["most_se"][1],
        null_lo=min(e["agreement_with_val"]["null_se"].values()), null_hi=max(e["agreement_with_val"]["null_se"].values()),
        shas="\n".join(f"| `{k}` | `{v}` |" for k, v in e["sha256"].items() if k.startswith("demo-eval")))
    note = f'\n"eval" is the same classifier on the {e["images"]} faces of the labelled evaluation set (below).'
    return e["classifier_auc"], {"eval_note": note, "eval_head": " eval |", "eval_rule": "---|", "eval_section": section}


def main(root):
    with open(os.path.join(root, "weights", "demo-world.json")) as f:
        d = json.load(f)
    eval_auc, eval_text = eval_parts(d)
    rows = []
    for name in d["features"]:
        factors = ", ".join(f"{fa['name']} {fa['loadings'][name]:+.2f}" for fa in d["factors"] if name in fa["loadings"])
        rows.append(f"| {name} | {'no' if name in d['not_drawn'] else 'yes'} | {factors or '-'} | "
                    f"{d['classifier_val_auc'][name]:.3f} | {d['classifier_auc_on_generator'][name]:.3f} |"
                    + (f" {eval_auc[name]:.3f} |" if eval_auc else ""))
    t = d["training"]
    text = HOW.format(
        not_drawn=", ".join(d["not_drawn"]),
        torch=t["torch"], train=t["train_images"], val=t["val_images"],
        csteps=t["classifier_steps"], cmin=t["classifier_seconds"] / 60, gsteps=t["generator_steps"],
        gmin=t["generator_seconds"] / 60, gl1=t["generator_val_l1"], tsteps=t["tuning_steps"], tmin=t["tuning_seconds"] / 60,
        total=(t["classifier_seconds"] + t["generator_seconds"] + t["tuning_seconds"] + t.get("render_seconds", 0)) / 60,
        rows="\n".join(rows), **eval_text, shas="\n".join(f"| `{k}` | `{v}` |" for k, v in d["sha256"].items()))
    with open(os.path.join(root, "weights", "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
