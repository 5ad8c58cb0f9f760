"""Facts about the machine a benchmark ran on, and counters that show how busy it was.

Everything is read from /proc, /sys, /etc and dpkg; a fact that cannot be read is left out
rather than guessed. Python 3 standard library only.
"""
import datetime
import time
import os
import platform
import shutil
import subprocess


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _run(*cmd, timeout=10):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _lscpu():
    facts = {}
    if shutil.which("lscpu") is None:
        return facts
    for line in _run("lscpu").splitlines():
        name, _, value = line.partition(":")
        facts[name.strip()] = value.strip()
    return facts


def package_version(name):
    return _run("dpkg-query", "-W", "-f=${Version}", name) or None


def describe(root, results_dir=None):
    """Returns a dict describing this machine and the software the benchmark depends on."""
    facts = {}
    cpuinfo = _read("/proc/cpuinfo")
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            facts["cpu_model"] = line.split(":", 1)[1].strip()
            break
    lscpu = _lscpu()
    facts["cpus_logical"] = os.cpu_count()
    facts["cpus_usable"] = len(os.sched_getaffinity(0))
    for key, name in (("threads_per_core", "Thread(s) per core"),
                      ("cores_per_socket", "Core(s) per socket"), ("sockets", "Socket(s)"),
                      ("hypervisor", "Hypervisor vendor"), ("l3_cache", "L3 cache"),
                      ("cpu_max_mhz", "CPU max MHz")):
        if lscpu.get(name):
            facts[key] = lscpu[name]
    flags = ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = line
            break
    facts["avx2"] = " avx2" in flags
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            facts["memory_gib"] = round(int(line.split()[1]) / (1024 * 1024), 1)
    uname = platform.uname()
    facts["kernel"] = f"{uname.system} {uname.release} {uname.machine}"
    facts["debian_version"] = _read("/etc/debian_version").strip() or None
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            facts["os"] = line.split("=", 1)[1].strip().strip('"')
    virt = _run("systemd-detect-virt") if shutil.which("systemd-detect-virt") else ""
    if virt:
        facts["virtualization"] = virt
    governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip()
    if governor:
        facts["cpu_governor"] = governor
    packages = {}
    for p in ("android-libboringssl-dev", "android-libboringssl", "liburing-dev",
              "libsimdjson-dev", "libabsl-dev", "libbenchmark-dev", "g++", "nginx-light",
              "libnginx-mod-http-js", "golang-go", "golang-github-golang-jwt-jwt-dev"):
        v = package_version(p)
        if v:
            packages[p] = v
    facts["packages"] = packages
    facts["compiler"] = (_run("c++", "--version").splitlines() or [None])[0]
    facts["python"] = platform.python_version()
    facts["date_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    facts["loadavg_start"] = load_average()
    commit = _run("git", "-C", root, "rev-parse", "HEAD")
    if commit:
        facts["git_commit"] = commit
    if results_dir:
        fs = _run("stat", "-f", "-c", "%T", results_dir)
        if fs:
            facts["results_filesystem"] = fs
    return facts


def load_average():
    parts = _read("/proc/loadavg").split()
    return [float(x) for x in parts[:3]] if len(parts) >= 3 else None


class CpuSample:
    """Machine-wide CPU time from /proc/stat, in clock ticks: busy (not idle, not iowait) and
    steal (time the hypervisor gave our virtual CPUs to someone else)."""

    def __init__(self):
        fields = [0] * 8
        for line in _read("/proc/stat").splitlines():
            if line.startswith("cpu "):
                fields = [int(x) for x in line.split()[1:9]]
                break
        user, nice, system, idle, iowait, irq, softirq, steal = fields
        self.busy = user + nice + system + irq + softirq
        self.steal = steal
        self.total = sum(fields)
        self.time = time.monotonic()

    @staticmethod
    def ticks_per_second():
        return os.sysconf("SC_CLK_TCK")
