"""The known digests of the official datasets ``mneme data`` installs.

The official archives themselves were not at hand when these were taken, so these are the digests
of the *extracted files* of a copy of each release verified file by file against its published
sources: ``mneme data`` checks every file it installs against them. One file
has no SHA-256 here: bAbI's ``en-10k/qa3_three-supporting-facts_train.txt`` was missing from that
copy, so its MD5 is the one ParlAI lists for the official release (facebookresearch/ParlAI issue
1805). A digest is written ``"ALGORITHM:HEX"`` (an algorithm of ``hashlib``).
"""

from __future__ import annotations

BABI: dict[str, str] = {
    "en/qa1_train": "sha256:c64ba9b1a49bbb111ffc4cd2ae4f129d25c012399dd7ade9679eea464b9afb05",
    "en/qa1_test": "sha256:55acf66cef2f6d798e2aa1d056e1ec8f24e910ea9215b639450574321132959b",
    "en/qa2_train": "sha256:a4978af5bc0dc30191810e7c9949aaa6eae939ed0f6beb9fcb5f4330c2a27860",
    "en/qa2_test": "sha256:eff93fb9cd81ba02eb765772cf7cc269769ed44ec71cbbbc19cfb16ee5eba0f6",
    "en/qa3_train": "sha256:a6e78019f36a02a7ed71fe6aaded0b563ff09c8deec392931801fcd9c6af4d60",
    "en/qa3_test": "sha256:17795c977100baf8188f386522ae301b62d6c1a13efc01b3aea781e588b4d57f",
    "en/qa4_train": "sha256:c9370502d85fa382f32d1fea2111e817f81ae9e3e79eb2924a1a5392a90417fa",
    "en/qa4_test": "sha256:07f0ca18ddeea9eed4ba6d59e162adcb0ce44815721114b3540d92825509331e",
    "en/qa5_train": "sha256:086cd59c3ca9677bfac3d6a22ca5853c76a5c1fbae3159c7c4a6aef759a74ec0",
    "en/qa5_test": "sha256:ec825c1c8a76e63a31f0d7a7763cd63740e98332fa9bdf246a19068949bd5f97",
    "en/qa6_train": "sha256:5a133115ee35d475776df703ff605d145b11effbcdbf7e74861f9d5639246a5a",
    "en/qa6_test": "sha256:b108b16f1eccbd1c24df6dca2649079a7b2f10af7fd12d4c45a3393802de59e3",
    "en/qa7_train": "sha256:dca03bd91876951c49f1c971c83c9dd55404de60201b7b6435451cf7ddb4751c",
    "en/qa7_test": "sha256:a74d1f2b91329b2bae814d41cdac2fbdfdf0328562b7d8afa9a0fa576d461e27",
    "en/qa8_train": "sha256:058604df6f9440458317e8ae685d2b7b84261e1a80b4d6410a9140d16f81bf06",
    "en/qa8_test": "sha256:362a653c821a580fa315a85243b4f03bfa06fa7e0269b6f8e596f8fe6911646a",
    "en/qa9_train": "sha256:0c3b89921af0caea1c4059ee3f7b7f2a88869f924195a428da37820446b8c49f",
    "en/qa9_test": "sha256:63590aff3f89993db409f0e9a9eb39c2a5b9d5efff99b255d800a891b0044d9f",
    "en/qa10_train": "sha256:0b7691689447bab05476c5b48c44999b41e747c3978df69c18fdd87b60d6e8b3",
    "en/qa10_test": "sha256:fde8f20ed0b3ba979058ed391a566af34653f23baab5b2793ee37f87ef4e88b7",
    "en/qa11_train": "sha256:9468de9a1f256f43dfda693a5d07182d21149a82b65f7c2451c64e9cff5eb138",
    "en/qa11_test": "sha256:46f3290d0158ce1285a40cd2d793f5a65f86ae5000226e165cbc85a3dfeb2f6f",
    "en/qa12_train": "sha256:45c2764bb2d3c8f699d35e9d9aa7958fcd96379c6e907116cdf74526c108bb25",
    "en/qa12_test": "sha256:6437718f8f9801ce345869e910b896836cdc6fd2d01dc7b4d2df49730703b4b1",
    "en/qa13_train": "sha256:533a391edbda743e4c99504de88b40cdded5b1d5ef454d1390f0863f748a4cc9",
    "en/qa13_test": "sha256:76a25b684f23c9cc473d8cd1465506168b9a1ec8891cfc59d0bbd87e6a064990",
    "en/qa14_train": "sha256:b7561cbc624205c9c2fdbb8c843cfa8ad90edd65e78bb223fc6dea8113662df8",
    "en/qa14_test": "sha256:e3f0b19858ffbec3ed1e49076cc4d1295a89ce146c50318b862f13f202b3caf2",
    "en/qa15_train": "sha256:e856ebfdcce4dd7d617c1d10f985e96a0850c0ca18e9a19a017cb710d135ed3d",
    "en/qa15_test": "sha256:32b77e117fe9acf5f94906684e3b5206de0108e646c76e1da3e022896ec7ee94",
    "en/qa16_train": "sha256:20121005137e3d4b061a086eb177a456303d5742b764eb8da2d0e480b6af4d28",
    "en/qa16_test": "sha256:4a11e55366f2a5a859b5a81f683ee23801bdbe71ef984e51adb976bd053e8dcf",
    "en/qa17_train": "sha256:20083bf56ff74f0e7cf5e3e2f8c3905cdb8ef09293c3e8cf7a96ed8b45ae2277",
    "en/qa17_test": "sha256:9e1e0250ed4ec1831757fab26c04138f81ea557ebf6976a220db879cbed04bac",
    "en/qa18_train": "sha256:18b7dcf52c9a0e87e4e7dd3d65b7e5a630de039645f52a1294197af7481d739d",
    "en/qa18_test": "sha256:d34f70eb7228a276fcb3a7854174fe562c5634f4fb454a39fc3d1ad9934be3ef",
    "en/qa19_train": "sha256:dcb788352a56effb7bea1449128f31cc9c342c8c327b6df2caeee0e379e6ad3a",
    "en/qa19_test": "sha256:023e391f0d7f79c9e6ae1c46c093e2d0dbd50ab8fbd8965e037a75e3614c20e5",
    "en/qa20_train": "sha256:29580ad55fb7b4b29ba014696056cc68f8f347dac3be88470fd692ad60150398",
    "en/qa20_test": "sha256:bd3bde3788ac14ba0ae095078f7b820fbd2bfa6a34dba9d1d46a34afde9c2729",
    "en-10k/qa1_train": "sha256:749ea9f7c99070feb2d88c975a254417a0dcc8274add4435ae5ae24c7afc7e9d",
    "en-10k/qa1_test": "sha256:55acf66cef2f6d798e2aa1d056e1ec8f24e910ea9215b639450574321132959b",
    "en-10k/qa2_train": "sha256:d4074c0c5d54f70ce2f538056ce2b6ef6a313da336da4245f1a24f1298e37ef3",
    "en-10k/qa2_test": "sha256:eff93fb9cd81ba02eb765772cf7cc269769ed44ec71cbbbc19cfb16ee5eba0f6",
    "en-10k/qa3_train": "md5:639cbebe6f1ce51b3b5d2f32148ed352",  # see above
    "en-10k/qa3_test": "sha256:17795c977100baf8188f386522ae301b62d6c1a13efc01b3aea781e588b4d57f",
    "en-10k/qa4_train": "sha256:5d11b821d35234988ab907866aa7ce718e6b6d751acf63bdef52262afb59f12c",
    "en-10k/qa4_test": "sha256:07f0ca18ddeea9eed4ba6d59e162adcb0ce44815721114b3540d92825509331e",
    "en-10k/qa5_train": "sha256:2506910935b701bac64fc8b1d7ff12bd8d0f47ceefca183454282bec784c12a5",
    "en-10k/qa5_test": "sha256:ec825c1c8a76e63a31f0d7a7763cd63740e98332fa9bdf246a19068949bd5f97",
    "en-10k/qa6_train": "sha256:602f379184bf3cb59660d0f7769d9c94ccdc1fc4d82dfe90bd460d985b1ff0c5",
    "en-10k/qa6_test": "sha256:b108b16f1eccbd1c24df6dca2649079a7b2f10af7fd12d4c45a3393802de59e3",
    "en-10k/qa7_train": "sha256:4a2508733bef9b38cfce4b3108a91b83cdee378de4a7370e4d32fea2dacd3b7d",
    "en-10k/qa7_test": "sha256:a74d1f2b91329b2bae814d41cdac2fbdfdf0328562b7d8afa9a0fa576d461e27",
    "en-10k/qa8_train": "sha256:9518da2d3aa5d98bec33335e0d5ba3a22c2bd1929ee679085d37eb50a7652e4a",
    "en-10k/qa8_test": "sha256:362a653c821a580fa315a85243b4f03bfa06fa7e0269b6f8e596f8fe6911646a",
    "en-10k/qa9_train": "sha256:5f8949f6ef7d64516fc4dd5732b12b5932d057b1a614e8ac94e795fb020d4ff0",
    "en-10k/qa9_test": "sha256:63590aff3f89993db409f0e9a9eb39c2a5b9d5efff99b255d800a891b0044d9f",
    "en-10k/qa10_train": "sha256:c5c0788b0446095c07a0442784cad2b59c1d58e875ebe8ad852f5e3f628613f4",
    "en-10k/qa10_test": "sha256:fde8f20ed0b3ba979058ed391a566af34653f23baab5b2793ee37f87ef4e88b7",
    "en-10k/qa11_train": "sha256:edfcd97fecd4a5045af25e1790cf1408856ae362c39521b1b69cd32b88ec0ced",
    "en-10k/qa11_test": "sha256:46f3290d0158ce1285a40cd2d793f5a65f86ae5000226e165cbc85a3dfeb2f6f",
    "en-10k/qa12_train": "sha256:39d58df3564916c66cebc98befb65d605c032181e51208730fd8837a77bc166a",
    "en-10k/qa12_test": "sha256:6437718f8f9801ce345869e910b896836cdc6fd2d01dc7b4d2df49730703b4b1",
    "en-10k/qa13_train": "sha256:c530fdf122d26617a8a03ba5cdbacee87c22624ba7f50d1f07f9658c900e22d8",
    "en-10k/qa13_test": "sha256:76a25b684f23c9cc473d8cd1465506168b9a1ec8891cfc59d0bbd87e6a064990",
    "en-10k/qa14_train": "sha256:c322e0814eef71f088af1aa1334e7ae4b1ee6ca18f2ee94c05e2189226964ed6",
    "en-10k/qa14_test": "sha256:e3f0b19858ffbec3ed1e49076cc4d1295a89ce146c50318b862f13f202b3caf2",
    "en-10k/qa15_train": "sha256:0a86673f7fafa484f8ee394048f03de19405bdc40b58f21086969efad2862010",
    "en-10k/qa15_test": "sha256:32b77e117fe9acf5f94906684e3b5206de0108e646c76e1da3e022896ec7ee94",
    "en-10k/qa16_train": "sha256:27fef347ce0b25dd148efea2b15f154926e0e9069d4ea6ab9cfca3add492ab35",
    "en-10k/qa16_test": "sha256:4a11e55366f2a5a859b5a81f683ee23801bdbe71ef984e51adb976bd053e8dcf",
    "en-10k/qa17_train": "sha256:8a383651e009db50d6c9effed5778b8646c28c55fadb1592b5f4d8d3a187bbce",
    "en-10k/qa17_test": "sha256:9e1e0250ed4ec1831757fab26c04138f81ea557ebf6976a220db879cbed04bac",
    "en-10k/qa18_train": "sha256:9e7c15107067d2070170ef12579a8bfe34dfc35a7ac9ebd13f2001dc1a7488f9",
    "en-10k/qa18_test": "sha256:d34f70eb7228a276fcb3a7854174fe562c5634f4fb454a39fc3d1ad9934be3ef",
    "en-10k/qa19_train": "sha256:6cfdc6f448e3cf0e3d8a390fa3add461935b033f89ede32aeef30812401ec91e",
    "en-10k/qa19_test": "sha256:023e391f0d7f79c9e6ae1c46c093e2d0dbd50ab8fbd8965e037a75e3614c20e5",
    "en-10k/qa20_train": "sha256:36f20f3baf6bad2297d5b9fd877e633550c36106fe78bc10ddfb7b1eede62573",
    "en-10k/qa20_test": "sha256:bd3bde3788ac14ba0ae095078f7b820fbd2bfa6a34dba9d1d46a34afde9c2729",
}
"""bAbI v1.2 ``tasks_1-20_v1-2.tar.gz``: ``SIZE_DIR/qa{TASK}_{SPLIT}`` -> digest of that file."""

PTB: dict[str, str] = {
    "ptb.train.txt": "sha256:fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "sha256:c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "sha256:dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
"""Mikolov's ``simple-examples.tgz``: its ``data/ptb.*.txt`` files."""

TINYSHAKESPEARE: dict[str, str] = {
    "input.txt": "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}
"""char-rnn's ``data/tinyshakespeare/input.txt`` (a plain file, not an archive)."""

ENG_FRA: dict[str, str] = {
    "fra.txt": "sha256:2546838ae46e0eac4c02ab7032ea0a02a006074a5340077a36a9444f41e02888",
    "_about.txt": "sha256:359011f5738272138286287b44db215d184823911eb049da2160a6ac6933d6c9",
}
"""manythings.org's ``fra-eng.zip`` of 2017-09-29 (archive SHA-256 16c4f7d0df9e7c5e6c54cdb0447f3f4a
18a55052ff5e2e0b27dd4a06c0e49d04); the site publishes newer releases under the same name, which
install with ``--sha256`` of the file downloaded."""
