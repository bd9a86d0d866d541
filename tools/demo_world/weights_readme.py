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

Total training time: about {total:.0f} minutes on the 2-core development machine.

## Validation AUC per attribute

"val" is the (tuned) classifier on {val} rendered validation faces; "on G" is the same classifier on
4000 generator pictures of fresh codes, against those codes' labels.

| attribute | drawn | factors | val AUC | on G |
|---|---|---|---|---|
{rows}

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


def main(root):
    with open(os.path.join(root, "weights", "demo-world.json")) as f:
        d = json.load(f)
    rows = []
    for name in d["features"]:
        factors = ", ".join(f"{fa['name']} {fa['loadings'][name]:+.2f}" for fa in d["factors"] if name in fa["loadings"])
        rows.append(f"| {name} | {'no' if name in d['not_drawn'] else 'yes'} | {factors or '-'} | "
                    f"{d['classifier_val_auc'][name]:.3f} | {d['classifier_auc_on_generator'][name]:.3f} |")
    t = d["training"]
    text = HOW.format(
        not_drawn=", ".join(d["not_drawn"]), torch=t["torch"], train=t["train_images"], val=t["val_images"],
        csteps=t["classifier_steps"], cmin=t["classifier_seconds"] / 60, gsteps=t["generator_steps"],
        gmin=t["generator_seconds"] / 60, gl1=t["generator_val_l1"], tsteps=t["tuning_steps"], tmin=t["tuning_seconds"] / 60,
        total=(t["classifier_seconds"] + t["generator_seconds"] + t["tuning_seconds"] + t.get("render_seconds", 0)) / 60,
        rows="\n".join(rows), shas="\n".join(f"| `{k}` | `{v}` |" for k, v in d["sha256"].items()))
    with open(os.path.join(root, "weights", "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
