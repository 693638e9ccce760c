"""hetq.io: the text loader reads a file exactly or refuses it, naming line, column and field;
outputs get the umask's permissions and never replace an input."""

import os
import stat

import numpy as np
import pytest

from hetq.io import (InputError, TextOptions, check_output, load_array, load_samples,
                     read_text, save_npz)

X = np.array([[0.59471, 0.52493, 0.3, 0.25, 0.125, 0.0625, 1.5, 2.0],
              [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
              [3.0, 1e-3, 2.5e2, 0.0, 7.0, 8.0, 9.0, 10.0]])


def rows(x=X, sep=",", fmt="{:g}", end=""):
    return "\n".join(sep.join(fmt.format(v) for v in r) + end for r in x) + "\n"


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, delimiter", [
    (rows(), ","),
    (rows(sep=";"), ";"),
    (rows(sep="\t"), "\t"),
    (rows(sep="   "), None),
    (rows(end=","), ","),                                   # trailing comma on every row
    (rows(fmt='"{:g}"'), ","),                              # quoted numbers
    ("# a comment\n\n" + rows(sep=", "), ","),
])
def test_reads_every_layout_exactly(tmp_path, text, delimiter):
    data, info = read_text(write(tmp_path, text))
    np.testing.assert_equal(data, X)
    assert (info.rows, info.columns, info.delimiter, info.header_line) == (3, 8, delimiter, None)


def test_decimal_comma_is_refused_then_read_when_asked(tmp_path):
    p = write(tmp_path, rows(sep=";", fmt="{:g}").replace(".", ","))
    with pytest.raises(InputError, match=r"line 1, column 1: '0,59471' uses a decimal comma; "
                                         r"give --decimal ,"):
        read_text(p)
    data, info = read_text(p, TextOptions(decimal=","))
    np.testing.assert_equal(data, X)
    assert info.columns == 8 and "decimal comma" in info.describe()


def test_typo_in_first_row_is_an_error_not_a_header(tmp_path):
    text = rows()
    p = write(tmp_path, text.replace("0.3", "O.3", 1))
    with pytest.raises(InputError, match=r"line 1, column 3: 'O.3' is not a number"):
        read_text(p)


def test_text_row_after_the_first_is_an_error(tmp_path):
    p = write(tmp_path, "1,2\nfoo,bar\n")
    with pytest.raises(InputError, match=r"line 2, column 1: 'foo' is not a number"):
        read_text(p)


def test_header_with_names_is_skipped_and_reported(tmp_path):
    p = write(tmp_path, "s0,s1,s2,s3,s4,s5,s6,s7\n" + rows())
    data, info = read_text(p)
    np.testing.assert_equal(data, X)
    assert info.header_line == 1
    assert info.describe() == f"{p}: 3 rows x 8 columns, ',' separated, header: line 1"


def test_numbered_header_is_ambiguous(tmp_path):
    p = write(tmp_path, ",".join(map(str, range(8))) + "\n" + rows())
    with pytest.raises(InputError, match=r"line 1 is 0, 1, .*--header yes.*--header no"):
        read_text(p)
    data, _ = read_text(p, TextOptions(header="yes"))
    np.testing.assert_equal(data, X)
    data, _ = read_text(p, TextOptions(header="no"))
    np.testing.assert_equal(data, np.vstack([np.arange(8), X]))


@pytest.mark.parametrize("text, message", [
    ("1,,3\n4,5,6\n", r"line 1, column 2: empty field"),
    ("1,2,3\n4,5\n", r"line 2 has 2 columns but line 1 has 3"),
    ("a,b\n1,2,3\n", r"header \(line 1\) has 2 names but the rows have 3 columns"),
    ("1,2\n3,1_000\n", r"line 2, column 2: '1_000' is not a number"),
    ("a,b\n", r"no data rows \(only the header, line 1\)"),
    ('1,"2\n', r"line 1: "),
])
def test_malformed_text(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(InputError, match=message):
        read_text(p)


def test_decimal_point_with_decimal_comma_option(tmp_path):
    p = write(tmp_path, "1.5;2\n")
    with pytest.raises(InputError, match="decimal point but the decimal mark was set to ','"):
        read_text(p, TextOptions(decimal=","))


def test_load_array_reports_what_it_read(tmp_path):
    seen = []
    data = load_array(write(tmp_path, rows(sep="\t"), "d.tsv"), report=seen.append)
    np.testing.assert_equal(data, X)
    assert seen == [f"{tmp_path / 'd.tsv'}: 3 rows x 8 columns, tab separated, header: no"]


def test_pickled_npy_gets_our_message_not_numpys(tmp_path):
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError) as e:
        load_samples(p)
    assert "holds Python objects" in str(e.value) and "allow_pickle" not in str(e.value)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_npz_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_npz(tmp_path / "a.npz", x=np.zeros(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.npz").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_output_equal_to_an_input_is_refused(tmp_path):
    p = tmp_path / "data.npz"
    np.savez(p, samples=X)
    link = tmp_path / "link.npz"
    link.symlink_to(p)
    for out in (p, tmp_path / "." / "data.npz", link):
        with pytest.raises(InputError, match="same file as DATA"):
            check_output(out, ".npz", inputs=[("DATA", p)])


def test_unwritable_output_names_the_users_path():
    with pytest.raises(InputError, match=r"^/proc/x\.npz: cannot write"):
        save_npz("/proc/x.npz", x=np.zeros(1))
