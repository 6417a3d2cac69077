"""How learnable a reference mask is from its own pixels: a pixel classifier trained on one half of a
region, scored on the other half."""

import numpy as np

from cellframe.io.segmetrics import pixel_dice


def half_ceiling(image, reference, labels, samples: int, trees: int, seed: int = 0,
                 region: tuple[slice, slice] = (slice(None), slice(None))) -> tuple[float, float]:
    """Pixel Dice on the right half of ``region`` of a random forest trained on its left half (multiscale
    H and E features of the whole image, scikit-image), and of ``labels`` there."""
    from skimage.color import rgb2hed
    from skimage.feature import multiscale_basic_features
    from sklearn.ensemble import RandomForestClassifier

    hed = rgb2hed(image)
    features = multiscale_basic_features(hed[..., :2], channel_axis=-1, sigma_min=1, sigma_max=16)[region]
    truth, labels = reference[region] > 0, labels[region]
    half = truth.shape[1] // 2
    train_x, train_y = features[:, :half].reshape(-1, features.shape[-1]), truth[:, :half].ravel()
    pick = np.random.default_rng(seed).choice(len(train_y), min(samples, len(train_y)), replace=False)
    forest = RandomForestClassifier(trees, max_depth=12, random_state=seed, n_jobs=-1).fit(train_x[pick], train_y[pick])
    guess = forest.predict(features[:, half:].reshape(-1, features.shape[-1])).reshape(truth[:, half:].shape)
    return pixel_dice(truth[:, half:], guess), pixel_dice(truth[:, half:], labels[:, half:])
