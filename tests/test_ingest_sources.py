"""Sources: every format on small inline files, every error with its file and line."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.sources import IngestFormatError, LoadStats, detect_format, load_posts
from persona.domain import PostKind

SHARED_TWEETS = Path(__file__).parents[1].parent / "shared/data/creators/tweets_dev.csv"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def fails(path: Path, **kwargs: object) -> IngestFormatError:
    with pytest.raises(IngestFormatError) as info:
        list(load_posts(path, **kwargs))  # type: ignore[arg-type]
    assert str(path) in str(info.value)
    return info.value


# -- CSV --------------------------------------------------------------------------------------

TWO_CREATORS_CSV = (
    "id,name,created,text\n"
    "1,KimK,2019-02-02T21:11:49Z,Big news today!!! Available NOW https://t.co/abc\n"
    '2,fchollet,2019-02-03T08:00:00Z,"@someone @other Deep learning is not magic, '
    'it is &amp; will stay curve fitting"\n'
    "3,KimK,2019-02-04T10:00:00Z,https://t.co/only-a-link\n"
    "4,fchollet,2019-02-05T10:00:00Z,\n"
)


def test_csv_with_a_creator_column_gives_typed_cleaned_records(tmp_path: Path) -> None:
    path = write(tmp_path, "posts.csv", TWO_CREATORS_CSV)
    stats = LoadStats()
    records = list(load_posts(path, creator_column="name", stats=stats))

    assert stats.rows == 4
    assert stats.posts == 3
    assert stats.skipped_empty == 1  # the empty row
    assert stats.replies == 1
    assert stats.rows_by_creator == {"kimk": 2, "fchollet": 1}

    kim, francois, link_only = records
    # A link-only post is still the creator's post: stored, but nothing left to model.
    assert link_only.clean_text == "" and link_only.lang == "und"
    assert kim.creator == "kimk"
    assert kim.extra["display_name"] == "KimK"
    assert kim.kind == PostKind.POST
    assert kim.text == "Big news today!!! Available NOW https://t.co/abc"
    assert kim.clean_text == "Big news today!!! Available NOW"
    assert kim.external_id == "1"
    assert kim.created_at == datetime(2019, 2, 2, 21, 11, 49, tzinfo=UTC)
    assert kim.source == "posts.csv:2"

    assert francois.kind == PostKind.REPLY
    assert francois.clean_text == "Deep learning is not magic, it is & will stay curve fitting"
    assert francois.lang == "en"
    assert francois.source == "posts.csv:3"


def test_csv_utf8_bom_and_alias_columns(tmp_path: Path) -> None:
    content = "post_id,content,timestamp\nx1,Bonjour à tous, on se retrouve ce soir !,1700000000\n"
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + content.encode())
    # "Bonjour..." contains a comma: this row has 4 fields for 3 columns.
    err = fails(path, creator="camille")
    assert err.line == 2
    assert "4 fields" in str(err) and "double quotes" in str(err)

    fixed = (
        "post_id,content,timestamp\n"
        'x1,"Bonjour à tous, on se retrouve ce soir en live !",1700000000\n'
    )
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + fixed.encode())
    (record,) = load_posts(path, creator="@Camille")
    assert record.creator == "camille"
    assert record.external_id == "x1"  # "post_id" found because id_column kept its default
    assert record.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert record.lang == "fr"


def test_csv_missing_column_lists_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "posts.csv", "id,author,body_text\n1,kim,hello there\n")
    err = fails(path, creator="kim")
    assert err.line == 1
    assert "'text'" in str(err) and "'id', 'author', 'body_text'" in str(err)
    assert "text_column" in str(err)

    err = fails(path, creator_column="name", text_column="body_text")
    assert "'name'" in str(err) and "creator_column" in str(err)

    err = fails(path, creator="kim", text_column="body_text", time_column="posted_at")
    assert "'posted_at'" in str(err)


def test_csv_row_errors_give_the_line_where_the_row_starts(tmp_path: Path) -> None:
    content = 'id,text\n1,"a post\nwritten on\nthree lines"\n2,fine\n3,too,many,fields\n'
    path = write(tmp_path, "posts.csv", content)
    err = fails(path, creator="kim")
    assert err.line == 6
    assert "4 fields but the header has 2" in str(err)

    bad_date = write(tmp_path, "dates.csv", "id,created,text\n1,yesterday-ish,hello world\n")
    err = fails(bad_date, creator="kim")
    assert err.line == 2 and "'yesterday-ish'" in str(err) and "ISO 8601" in str(err)


def test_tsv_and_explicit_reply_column(tmp_path: Path) -> None:
    content = (
        "text\tquestion\nmerci beaucoup, ça me touche énormément\tTu es géniale\nhello all\t\n"
    )
    path = write(tmp_path, "posts.tsv", content)
    reply, post = load_posts(path, creator="camille", reply_to_column="question")
    assert reply.kind == PostKind.REPLY and reply.reply_to_text == "Tu es géniale"
    assert post.kind == PostKind.POST and post.reply_to_text is None


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.csv", "id,text\n1,fine\n2,caf\xe9 cr\xe8me\n".encode("latin-1"))
    err = fails(path, creator="kim")
    assert err.line == 3
    assert "not UTF-8" in str(err) and "iconv" in str(err)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "excel.csv", "id,text\n1,hello from excel\n".encode("utf-16"))
    (record,) = load_posts(path, creator="kim")
    assert record.clean_text == "hello from excel"


# -- JSON / JSONL -----------------------------------------------------------------------------


def test_json_list_and_posts_object(tmp_path: Path) -> None:
    items = [
        {"id": 7, "created": "2024-03-01 10:00:00", "text": "New video is up! 🎬"},
        {"id": 8, "created": 1709287200000, "text": None},
        {"id": 9, "text": "@fan thanks!!"},
    ]
    for name, document in (("list.json", items), ("object.json", {"posts": items})):
        stats = LoadStats()
        path = write(tmp_path, name, json.dumps(items if name == "list.json" else document))
        first, second = load_posts(path, creator="kim", stats=stats)
        assert stats.rows == 3 and stats.skipped_empty == 1
        assert first.external_id == "7"
        assert first.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
        assert first.kind == PostKind.POST
        assert second.kind == PostKind.REPLY and second.clean_text == "thanks!!"


def test_demo_jsonl_format_marks_replies_and_keeps_the_fan(tmp_path: Path) -> None:
    lines = [
        {"id": "c1", "created": "2024-01-02T17:40:00Z", "text": "bonne année les gourmands ✨"},
        {
            "id": "c2",
            "created": "2024-01-04T13:05:00Z",
            "text": "jamais ! juste un trait de rhum",
            "reply_to": "tu mets de la fleur d'oranger dans ta frangipane ?? https://x.y/z",
            "fan": "margaux.lyon",
        },
    ]
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n"
    path = write(tmp_path, "camille.jsonl", text)
    post, reply = load_posts(path, creator="camille")
    assert post.kind == PostKind.POST and post.source == "camille.jsonl:1"
    assert reply.kind == PostKind.REPLY
    assert reply.reply_to_text == "tu mets de la fleur d'oranger dans ta frangipane ??"
    assert reply.extra["fan"] == "margaux.lyon"
    assert reply.lang == "fr"


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", '{"text": "one"}\n\n{"text": "two",}\n')
    err = fails(path, creator="kim")
    assert err.line == 3 and "invalid JSON" in str(err)

    path = write(tmp_path, "q.jsonl", '{"text": "one"}\n["not", "an", "object"]\n')
    err = fails(path, creator="kim")
    assert err.line == 2 and "expected an object" in str(err)

    path = write(tmp_path, "r.jsonl", '{"text": "one"}\n{"txt": "two"}\n')
    err = fails(path, creator="kim")
    assert err.line == 2 and "'txt'" in str(err) and "text_column" in str(err)

    path = write(tmp_path, "s.jsonl", '{"text": {"nested": 1}}\n')
    err = fails(path, creator="kim")
    assert err.line == 1 and "holds a dict" in str(err)


def test_json_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '[\n  {"text": "one"},\n  {"text": "two"\n]\n')
    err = fails(path, creator="kim")
    assert err.line == 4 and "invalid JSON" in str(err)

    items = '[\n  {"text": "one"},\n  {"text": "two"},\n  {"likes": 3, "txt": "x"}\n]'
    path = write(tmp_path, "items.json", items)
    err = fails(path, creator="kim")
    assert err.line == 4 and "item 3" in str(err) and "'txt'" in str(err)

    path = write(tmp_path, "lines.json", '{"text": "one"}\n{"text": "two"}\n')
    err = fails(path, creator="kim")
    assert "JSONL" in str(err) and "rename" in str(err)

    path = write(tmp_path, "odd.json", '{"tweets_of": [], "meta": 1}')
    err = fails(path, creator="kim")
    assert "'tweets_of'" in str(err) and "list of post objects" in str(err)


# -- TikTok export ----------------------------------------------------------------------------


OLD_TIKTOK = {
    "Activity": {
        "Video Browsing History": {
            "VideoList": [{"Date": "2020-05-01 10:00:00", "Link": "https://x/video/1/"}]
        },
        "Favorite Videos": {"FavoriteVideoList": [{"Date": "2020-05-01", "Link": "l"}]},
    },
    "Comment": {
        "Comments": {
            "CommentsList": [
                {"Date": "2020-06-01 12:00:00", "Comment": "haha thank you so much 💕"},
                {"Date": "2020-06-02 12:00:00", "Comment": ""},
            ]
        }
    },
    "Profile": {"Profile Information": {"ProfileMap": {"userName": "Mia.Cooks"}}},
    "Video": {
        "Videos": {
            "VideoList": [
                {
                    "Date": "2020-06-03 18:30:00",
                    "Link": "https://www.tiktokv.com/share/video/6834000000000000001/",
                    "Likes": "1520",
                    "Desc": "pasta night 🍝 #dinner",
                },
                {"Date": "2020-06-04 18:30:00", "Link": "https://x/video/2/", "Likes": "3"},
            ]
        }
    },
}

NEW_TIKTOK = {
    "Your Activity": {"Watch History": {"VideoList": [{"Date": "2024-01-01", "Link": "w"}]}},
    "Comment": {"Comments": {"CommentsList": None}},
    "Post": {
        "Posts": {
            "VideoList": [
                {"date": "2024-02-01 08:00:00", "link": "https://x/video/99/", "title": "hi!!"}
            ]
        }
    },
    "Profile And Settings": {"Profile Info": {"ProfileMap": {"userName": "newcreator"}}},
}


def test_tiktok_export_old_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "user_data.json", json.dumps(OLD_TIKTOK, ensure_ascii=False))
    stats = LoadStats()
    records = list(load_posts(path, stats=stats))
    # Watch history and favourites are other people's videos: not read.
    assert stats.rows == 4
    assert stats.skipped_empty == 2  # an empty comment, a video without caption
    by_kind = {r.kind: r for r in records}
    comment, video = by_kind[PostKind.REPLY], by_kind[PostKind.POST]
    assert comment.creator == "mia.cooks" and comment.extra["display_name"] == "Mia.Cooks"
    assert comment.clean_text == "haha thank you so much 💕"
    assert comment.created_at == datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
    assert video.clean_text == "pasta night 🍝 #dinner"
    assert video.external_id == "6834000000000000001"
    assert video.extra["likes"] == "1520"


def test_tiktok_export_new_layout_in_its_zip(tmp_path: Path) -> None:
    archive = tmp_path / "TikTok_Data_1.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("user_data_tiktok.json", json.dumps(NEW_TIKTOK))
    (record,) = load_posts(archive, creator="override")
    assert record.creator == "override"
    assert record.kind == PostKind.POST
    assert record.clean_text == "hi!!"
    assert record.external_id == "99"


def test_tiktok_export_without_posts_or_comments_says_what_to_export(tmp_path: Path) -> None:
    document = {"Profile": {"Profile Information": {}}, "Activity": {"Like List": {}}}
    path = write(tmp_path, "user_data.json", json.dumps(document))
    err = fails(path, fmt="tiktok")
    assert "VideoList" in str(err) and "CommentsList" in str(err)


# -- plain text and generic errors ------------------------------------------------------------


def test_plain_text_one_post_per_paragraph(tmp_path: Path) -> None:
    content = "first post\non two lines\n\n\n   \nsecond post 🎉\n\n@fan a reply\n"
    path = write(tmp_path, "notes.txt", content)
    first, second, third = load_posts(path, creator="kim")
    assert first.text == "first post\non two lines" and first.source == "notes.txt:1"
    assert second.source == "notes.txt:6"
    assert third.kind == PostKind.REPLY and third.clean_text == "a reply"


def test_a_file_without_creator_asks_for_one(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "hello\n")
    err = fails(path)
    assert err.line == 1 and "creator=" in str(err) and "creator_column=" in str(err)


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "posts.xlsx", "x")
    err = fails(path, creator="kim")
    assert ".csv" in str(err) and ".jsonl" in str(err) and ".txt" in str(err)
    err = fails(path, creator="kim", fmt="excel")
    assert "'excel'" in str(err) and "csv" in str(err)
    assert detect_format(path, "csv") == "csv"


def test_size_guard_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "big.jsonl", '{"text": "hello"}\n' * 100)
    err = fails(path, creator="kim", max_bytes=1000)
    assert "limit" in str(err) and "split" in str(err)
    assert len(list(load_posts(path, creator="kim"))) == 100

    err = fails(tmp_path / "nope.csv", creator="kim")
    assert "no such file" in str(err)


# -- the real tweets --------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_tweets_six_creators_and_reply_detection() -> None:
    if not SHARED_TWEETS.exists():
        pytest.skip(f"{SHARED_TWEETS} not found (shared data is not checked out here)")
    stats = LoadStats()
    records = list(load_posts(SHARED_TWEETS, creator_column="name", stats=stats))
    assert stats.rows == 7138
    assert len(stats.rows_by_creator) == 6
    assert stats.rows_by_creator["fchollet"] == 1203

    with SHARED_TWEETS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if r["text"].strip()]  # mention-only replies are kept too
    assert len(records) == len(kept) == stats.posts
    expected_replies = sum(r["text"].lstrip().startswith("@") for r in kept)
    assert stats.replies == expected_replies
    for record in records:
        assert (record.kind == PostKind.REPLY) == record.text.lstrip().startswith("@")
        assert not record.clean_text.startswith("@")  # the addressees are cut off
    hadley = [r for r in records if r.creator == "hadleywickham"]
    assert sum(r.kind == PostKind.REPLY for r in hadley) / len(hadley) > 0.85
    assert sum(r.lang == "en" for r in records) / len(records) > 0.85
