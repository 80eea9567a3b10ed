/**
 * The official distribution files of each dataset: names, where they are published, their exact
 * sizes and checksums. Sources:
 * - MNIST: /work/shared/data/README.md (sha256 and md5 of the original files), served from the
 *   PyTorch mirror https://ossci-datasets.s3.amazonaws.com/mnist/ (yann.lecun.com no longer serves
 *   the files reliably).
 * - Fashion-MNIST: the md5 table of https://github.com/zalandoresearch/fashion-mnist (README,
 *   "Get the Data"); URLs from the same table.
 * - CIFAR-10 and CIFAR-100: https://www.cs.toronto.edu/~kriz/cifar.html (binary versions; the
 *   page publishes the md5 of each archive; the sizes are those of the published archives).
 * - Debian's `dataset-fashion-mnist` package (0.0~git20200523.55506a9-1) installs the Fashion-MNIST
 *   files in /usr/share/datasets/fashion-mnist/ recompressed without gzip's file-name field (each
 *   file is shorter by the length of its name + 1; same images and labels): recorded as a
 *   {@link Repack} of the official files, with the size, md5 and sha256 of the installed files.
 */
import type { FileDatasetName } from './registry.js';

export interface OfficialFile {
  /** File name as published, e.g. `train-images-idx3-ubyte.gz`. */
  readonly name: string;
  /** Download URLs, tried in order. */
  readonly urls: readonly string[];
  /** Exact size in bytes. */
  readonly size: number;
  readonly md5?: string;
  readonly sha256?: string;
  /** The same data repackaged by a distribution, accepted as the official file (never downloaded). */
  readonly repacks?: readonly Repack[];
}

/** A distribution's copy of an official file with other bytes (e.g. recompressed). */
export interface Repack {
  /** Who made it, for messages: e.g. `Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1`. */
  readonly by: string;
  readonly size: number;
  readonly md5?: string;
  readonly sha256?: string;
}

export type { FileDatasetName };


const MNIST_BASE = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
const FASHION_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const DEBIAN_FASHION = 'Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1';

export const OFFICIAL_FILES: Readonly<Record<FileDatasetName, readonly OfficialFile[]>> = {
  mnist: [
    {
      name: 'train-images-idx3-ubyte.gz',
      urls: [MNIST_BASE + 'train-images-idx3-ubyte.gz'],
      size: 9912422,
      md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      urls: [MNIST_BASE + 'train-labels-idx1-ubyte.gz'],
      size: 28881,
      md5: 'd53e105ee54ea40749a09fcbcd1e9432',
      sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      urls: [MNIST_BASE + 't10k-images-idx3-ubyte.gz'],
      size: 1648877,
      md5: '9fb629c4189551a2d022fa330f9573f3',
      sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      urls: [MNIST_BASE + 't10k-labels-idx1-ubyte.gz'],
      size: 4542,
      md5: 'ec29112dd5afa0611ce80d1b7f02629c',
      sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
    },
  ],
  'fashion-mnist': [
    {
      name: 'train-images-idx3-ubyte.gz',
      urls: [FASHION_BASE + 'train-images-idx3-ubyte.gz'],
      size: 26421880,
      md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      repacks: [{ by: DEBIAN_FASHION, size: 26421856, md5: 'cf8536b0aa1a6ac5fa3f23001093305c', sha256: 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7' }],
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      urls: [FASHION_BASE + 'train-labels-idx1-ubyte.gz'],
      size: 29515,
      md5: '25c81989df183df01b3e8a0aad5dffbe',
      repacks: [{ by: DEBIAN_FASHION, size: 29491, md5: '10bea18fdb374794d4bb42e356e600c9', sha256: '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056' }],
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      urls: [FASHION_BASE + 't10k-images-idx3-ubyte.gz'],
      size: 4422102,
      md5: 'bef4ecab320f06d8554ea6380940ec79',
      repacks: [{ by: DEBIAN_FASHION, size: 4422079, md5: 'f78720b4224f21cce2f2ccf2d7a94c9a', sha256: 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa' }],
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      urls: [FASHION_BASE + 't10k-labels-idx1-ubyte.gz'],
      size: 5148,
      md5: 'bb300cfdad3c16e7a12a480ee83cd310',
      repacks: [{ by: DEBIAN_FASHION, size: 5125, md5: '0d30e22e447f3c33dab9ed536400ac01', sha256: '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05' }],
    },
  ],
  cifar10: [
    {
      name: 'cifar-10-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
      size: 170052171,
      md5: 'c32a1d4ab5d03f1284b67883e8d87530',
    },
  ],
  cifar100: [
    {
      name: 'cifar-100-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
      size: 168513733,
      md5: '03b5dce01913d631647c71ecec9e9cb8',
    },
  ],
};

/** The official file `name` of `dataset`, if there is one. */
export function officialFile(dataset: FileDatasetName, name: string): OfficialFile | undefined {
  return OFFICIAL_FILES[dataset].find((f) => f.name === name);
}

/**
 * Another dataset whose official file of this name has exactly this size (MNIST and
 * Fashion-MNIST share file names, so a folder of the one must not be read as the other).
 */
export function otherDatasetWithSize(
  dataset: FileDatasetName,
  name: string,
  size: number,
): FileDatasetName | undefined {
  for (const [other, files] of Object.entries(OFFICIAL_FILES) as [FileDatasetName, readonly OfficialFile[]][]) {
    if (other !== dataset && files.some((f) => f.name === name && (f.size === size || f.repacks?.some((r) => r.size === size)))) return other;
  }
  return undefined;
}

/** Sub-folder of a data directory that holds a dataset's files. */
export const DATASET_SUBDIR: Readonly<Record<FileDatasetName, string>> = {
  mnist: 'mnist',
  'fashion-mnist': 'fashion-mnist',
  cifar10: 'cifar10',
  cifar100: 'cifar100',
};
