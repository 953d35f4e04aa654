"""`flask --app wsgi worker [--queues a,b]` and `flask --app wsgi jobs …` (SPEC 9.3)."""
from __future__ import annotations

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, Worker
from rq.job import Job
from sqlalchemy.orm import configure_mappers

from bot.store import get_redis
from jobs import DEFAULT, DEFAULT_TIMEOUT, QUEUE_NAMES, queue, status
from jobs.notify import resume_all
from jobs.sweep import SweepTicker


def init_app(app) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(jobs_group)


def parse_queues(value: str | None) -> list[str]:
    """'sms,notify' -> ['sms', 'notify'] in QUEUE_NAMES order; None or '' -> all of them."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in QUEUE_NAMES]
    if unknown:
        raise click.BadParameter(f"没有这个队列：{', '.join(unknown)}（可选：{', '.join(QUEUE_NAMES)}）")
    return [n for n in QUEUE_NAMES if n in names] if names else list(QUEUE_NAMES)


@click.command("worker", help="启动后台任务进程（RQ worker，带定时调度）。默认处理全部队列。")
@click.option("--queues", "queue_list", metavar="a,b",
              help=f"只处理这些队列，逗号分隔，按此优先级：{','.join(QUEUE_NAMES)}")
@click.option("--burst", is_flag=True, help="队列清空后退出。")
@click.option("--no-scheduler", is_flag=True, help="不运行定时任务调度器（延时任务、提醒）。")
@with_appcontext
def worker(queue_list: str | None, burst: bool, no_scheduler: bool) -> None:
    names = parse_queues(queue_list)
    # Configure mappers before any fork, so each job does not pay for it.
    configure_mappers()
    # A worker start is the natural moment to pick up fan-outs orphaned by a crash (its leases
    # went stale): rows are leased atomically, so this never sends anything twice.
    requeued = resume_all()
    if requeued:
        click.echo(f"re-queued {requeued} unfinished notification job(s)")
    app = current_app._get_current_object()
    ticker = None
    if DEFAULT in names and not burst:
        # Workers of the default queue ask for the once-a-minute sweep (one runs, whoever asks).
        ticker = SweepTicker(app)
        ticker.start()
    click.echo(f"worker: queues {','.join(names)}")
    # The worker waits on BLPOP for minutes. rq lengthens the socket timeout only for connections
    # made after it starts, and the app's fail-fast client (1 s: right for a webhook) already holds
    # some: the worker listens on its own client; the jobs it runs keep the app's.
    listen = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=5, health_check_interval=30)
    queues = [Queue(queue(name).name, connection=listen, default_timeout=DEFAULT_TIMEOUT) for name in names]
    w = Worker(queues, connection=listen)
    try:
        w.work(burst=burst, with_scheduler=not no_scheduler)
    finally:
        if ticker is not None:
            ticker.stopped.set()


@click.group("jobs", help="查看后台任务：队列、进程、失败的任务，并重试失败的任务。")
def jobs_group() -> None:
    pass


@jobs_group.command("list", help="列出各队列等待数、在线的 worker 和最近失败的任务（含错误）。")
@with_appcontext
def list_jobs() -> None:
    click.echo("队列（等待中的任务数）：")
    for name, depth in status.queue_depths().items():
        click.echo(f"  {name:<8} {depth}")
    alive = status.workers()
    click.echo(f"在线 worker：{len(alive)}")
    for w in alive:
        click.echo(f"  {w.name}  队列 {','.join(w.queue_names())}  状态 {_value(w.get_state())}")
    failed = status.failed_jobs()
    click.echo(f"失败的任务：{status.failed_count()}")
    for name, job in failed:
        jid = job.id if job is not None else "?"
        what = job.func_name if job is not None else ""
        click.echo(f"  [{name}] {jid}  {what}\n      {status.last_error_line(job)}")
    if failed:
        click.echo("重试：flask --app wsgi jobs retry JOB_ID（或 --all）")


@jobs_group.command("show", help="查看一个任务的状态（如 graduates import --background 返回的任务号）。")
@click.argument("job_id")
@with_appcontext
def show_job(job_id: str) -> None:
    conn = queue(DEFAULT).connection
    if not Job.exists(job_id, conn):
        raise click.ClickException(f"没有任务 {job_id}（可能已过期）")
    job = Job.fetch(job_id, connection=conn)
    state = _value(job.get_status())
    click.echo(f"任务 {job.id}：{job.func_name}，队列 {job.origin}，状态 {state}（{JOB_STATES.get(state, state)}）")
    meta = job.get_meta()
    if meta.get("progress"):
        click.echo(f"进度：{meta['progress']}")
    if state == "failed":
        click.echo(f"错误：{status.last_error_line(job)}")
    elif state == "finished":
        click.echo(f"结果：{job.return_value()}")


JOB_STATES = {"queued": "排队中", "started": "进行中", "finished": "已完成", "failed": "失败", "scheduled": "定时",
              "deferred": "等待前置任务", "canceled": "已取消", "stopped": "已停止"}


def _value(state) -> str:
    return getattr(state, "value", state) or ""


@jobs_group.command("retry", help="把失败的任务重新放回队列。")
@click.argument("job_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="重试全部失败的任务。")
@with_appcontext
def retry(job_id: str | None, retry_all: bool) -> None:
    if not job_id and not retry_all:
        raise click.UsageError("请给出任务号，或用 --all 重试全部。")
    count = status.retry_failed(None if retry_all else job_id)
    if job_id and not count:
        raise click.ClickException(f"失败列表里没有任务 {job_id}")
    click.echo(f"已重新排队 {count} 个任务。")
