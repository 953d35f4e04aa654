"""GET /stats: through the simulator's OAuth in headless Chromium, and its
list, search, pagination and refusals checked against the imported CSV."""
from __future__ import annotations

import re
from collections import Counter

from tests.test_statistics import (CS, SCHOOL_NAME, college_named, expected_figures, import_csv, in_scope,
                                   majors_named, make_rows, write_csv)
from tests.wechat_client import new_openid

MAJORS = [("软件工程", ""), ("计算机科学与技术", "人工智能")]
COHORTS = [2025, 2026]


def counselor_with_data(db, factory, tmp_path, simulator=None):
    rows = make_rows()
    import_csv(db, write_csv(tmp_path / "grads.csv", rows))
    college = college_named(db, SCHOOL_NAME, CS)
    openid = simulator.add_user()["openid"] if simulator else new_openid()
    account = factory.counselor(college, majors=majors_named(db, college, MAJORS), cohorts=COHORTS,
                                study_level="本科", openid=openid, name="王老师")
    factory.commit()
    return openid, account, sorted(in_scope(rows, SCHOOL_NAME, CS, "本科", MAJORS, COHORTS), key=lambda r: r["学号"])


def login_as(client, openid):
    with client.session_transaction() as sess:
        sess["openid"] = openid


def test_stats_page_in_chromium(db, factory, page, simulator, live_server, tmp_path, artifacts_dir):
    openid, _, mine = counselor_with_data(db, factory, tmp_path, simulator)
    total, placed, rate, counts = expected_figures(mine)
    assert total > 30  # enough for two pages

    page.context.add_cookies([{"name": "sim_openid", "value": openid, "url": simulator.url}])
    page.goto(live_server + "/stats")
    assert page.url.startswith(live_server + "/stats")  # came back from the OAuth round trip
    assert page.inner_text("#fig-graduates") == str(total)
    assert page.inner_text("#fig-placed") == str(placed)
    assert page.inner_text("#fig-rate") == f"{rate}%"

    # The chart: a Chart.js instance holding our counts, and pixels actually drawn on its canvas.
    page.wait_for_function("window.destChart && window.destChart.chartArea")
    chart = page.evaluate("""() => ({
        isChart: window.destChart instanceof Chart,
        labels: window.destChart.data.labels,
        counts: window.destChart.data.datasets[0].data,
        painted: (() => {
            const c = document.getElementById('dest-chart');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
            return n;
        })(),
        width: document.getElementById('dest-chart').getBoundingClientRect().width,
    })""")
    assert chart["isChart"]
    assert dict(zip(chart["labels"], chart["counts"])) == {d: counts.get(d, 0) for d in chart["labels"]}
    assert sum(chart["counts"]) == total
    assert chart["painted"] > 2000, chart["painted"]
    assert chart["width"] <= 390  # fits the phone viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    grid = {li.get_attribute("data-dest"): int(li.query_selector("b").inner_text())
            for li in page.query_selector_all("#dest-table li")}
    assert grid == {d: counts.get(d, 0) for d in chart["labels"]}

    # The list: first page of 30, in 学号 order, each with its facts.
    items = page.query_selector_all("#grads li.grad")
    assert len(items) == 30
    assert [i.get_attribute("data-name") for i in items] == [r["姓名"] for r in mine[:30]]
    first = items[0].inner_text()
    assert mine[0]["毕业去向"] in first and ("已关注绑定" if mine[0]["关注绑定"] == "是" else "未关注绑定") in first
    assert f"共 {total} 人" in page.inner_text("#list-total")
    page.screenshot(path=f"{artifacts_dir}/stats-page.png", full_page=True)
    page.screenshot(path=f"{artifacts_dir}/stats-page-phone.png")
    page.evaluate("document.getElementById('summary').scrollIntoView()")
    page.screenshot(path=f"{artifacts_dir}/stats-page-list.png")

    # Search by name.
    target = mine[-1]
    page.fill("#search-form input[name=q]", target["姓名"])
    page.click("#search-form button")
    page.wait_for_url(re.compile(r".*q=.*"))
    names = [i.get_attribute("data-name") for i in page.query_selector_all("#grads li.grad")]
    assert names == [target["姓名"]]
    assert "符合条件 1 人" in page.inner_text("#list-total")
    page.screenshot(path=f"{artifacts_dir}/stats-page-search.png")


def test_list_pages_and_filters_cover_exactly_the_scope(db, factory, client, tmp_path):
    openid, _, mine = counselor_with_data(db, factory, tmp_path)
    login_as(client, openid)
    seen, page_no = [], 1
    while True:
        html = client.get(f"/stats?page={page_no}").get_data(as_text=True)
        names = re.findall(r'<li class="grad" data-name="([^"]+)"', html)
        if not names or page_no > 10:
            break
        seen += names
        if "下一页" not in html:
            break
        page_no += 1
    assert seen == [r["姓名"] for r in mine]
    assert page_no == -(-len(mine) // 30)

    counts = Counter(r["毕业去向"] for r in mine)
    dest, n = counts.most_common(1)[0]
    html = client.get("/stats", query_string={"dest": dest}).get_data(as_text=True)
    assert f"符合条件 {n} 人" in html
    # An odd search (LIKE wildcards) matches nobody instead of everybody.
    html = client.get("/stats", query_string={"q": "%"}).get_data(as_text=True)
    assert "符合条件 0 人" in html and "没有符合条件的毕业生" in html
    # A page number past the end shows the last page, not an error.
    assert client.get("/stats?page=999").status_code == 200


def test_staff_no_account_and_unbound_visitors(db, factory, client, tmp_path):
    college = factory.college()
    staff_openid, stranger, orphan = new_openid(), new_openid(), new_openid()
    factory.staff("college", college, openid=staff_openid, name="院系管理员")
    factory.identity("13912345678", openid=orphan)
    factory.commit()

    login_as(client, staff_openid)
    resp = client.get("/stats")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "仅向辅导员提供" in html and "进度" in html and "dest-chart" not in html

    login_as(client, orphan)
    html = client.get("/stats").get_data(as_text=True)
    assert "账号不存在" in html and "5678" in html and "13912345678" not in html

    login_as(client, stranger)
    html = client.get("/stats").get_data(as_text=True)
    assert "请先绑定" in html and 'href="/auth/login"' in html and "绑定 13800000000" in html


def test_anonymous_visitor_goes_through_oauth(client, simulator):
    resp = client.get("/stats")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith(simulator.url + "/connect/oauth2/authorize")


def test_counselor_without_records_sees_why(db, factory, client, tmp_path):
    college = factory.college(name="空学院")
    openid = new_openid()
    factory.counselor(college, openid=openid)
    factory.commit()
    login_as(client, openid)
    html = client.get("/stats").get_data(as_text=True)
    assert "还没有「空学院」的毕业生记录" in html and "dest-chart" not in html and "暂无毕业生记录" in html
