"""Browser tests of crm-web (docs/WEB.md): headless Chromium driven by
Selenium against a real crmd and a real crm-web on real sockets.

    CRM_BUILD_DIR=$PWD/build python3 -m pytest -q Tests/WebTests

They install what they need when it is missing, so a fresh Debian machine
runs them: Debian's chromium and chromium-driver (apt-get, with sudo when not
root) and Selenium from PyPI. Each test leaves a screenshot in
$CRM_WEB_TEST_OUT (default build/test-output/web).
"""

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("CRM_BUILD_DIR") or os.path.join(ROOT, "build")
OUT = os.environ.get("CRM_WEB_TEST_OUT") or os.path.join(BUILD, "test-output", "web")
BCRYPT_COST = "4"  # the lowest: the tests sign in often; the code path is the same
LOCKOUT_FAILURES = 3
LOCKOUT_SECONDS = 3
PASSWORD = "correct horse battery"


def _run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def _ensure_browser():
    """Debian's chromium and chromium-driver, and Selenium, if missing."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(sudo + ["apt-get", "update", "-qq"], env=env)
        _run(sudo + ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], env=env)
    try:
        import selenium  # noqa: F401
    except ImportError:
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "selenium"]
        if subprocess.run(pip).returncode != 0:
            _run(pip + ["--break-system-packages"])
        importlib.invalidate_caches()


def pytest_configure(config):
    _ensure_browser()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """crmd and crm-web in a temporary folder, and ways to set them up."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="crm-web-test-")
        self.socket = os.path.join(self.dir, "crm.sock")
        self.web_data = os.path.join(self.dir, "web-data")
        self.processes = []
        self.people = {}

    def bin(self, name):
        return os.path.join(BUILD, "bin", name)

    def start_crmd(self):
        log = open(os.path.join(self.dir, "crmd.log"), "w")
        self.processes.append(subprocess.Popen(
            [self.bin("crmd"), "--socket", self.socket, "--data-dir", os.path.join(self.dir, "data"),
             "--plugin-dir", os.path.join(BUILD, "plugins"), "--log-level", "warning",
             # crm-web runs as this uid, which crmd believes when it names a user in crm-user.
             "--trusted-proxy-uid", str(os.getuid())],
            stdout=log, stderr=subprocess.STDOUT))
        for _ in range(400):
            if os.path.exists(self.socket):
                return
            time.sleep(0.05)
        raise RuntimeError("crmd did not create its socket")

    def crmctl(self, *args, user=None):
        cmd = [self.bin("crmctl"), *args, "--socket", self.socket]
        if user:
            cmd += ["-H", "crm-user=" + user]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stdout}{done.stderr}")
        return done.stdout

    def call(self, method, request, user=None):
        return json.loads(self.crmctl("call", "/crm.contacts.v1.Contacts/" + method, json.dumps(request), user=user))

    def web_user(self, name, password=PASSWORD):
        subprocess.run([self.bin("crm-web"), "users", "add", name, "--password-stdin",
                        "--bcrypt-cost", BCRYPT_COST, "--data-dir", self.web_data],
                       input=password + "\n", text=True, check=True, capture_output=True)

    def start_web(self, **flags):
        port = _free_port()
        args = [self.bin("crm-web"), "--socket", self.socket, "--listen", f"127.0.0.1:{port}",
                "--data-dir", self.web_data, "--bcrypt-cost", BCRYPT_COST,
                "--lockout-failures", str(LOCKOUT_FAILURES), "--lockout-seconds", str(LOCKOUT_SECONDS)]
        for key, value in flags.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        log = open(os.path.join(self.dir, f"crm-web-{port}.log"), "w")
        self.processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"
        for _ in range(400):
            try:
                urllib.request.urlopen(base + "/", timeout=1).read()
                return base
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("crm-web did not answer")

    def stop(self):
        for p in reversed(self.processes):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    s = Stack()
    try:
        s.start_crmd()
        for name, role in [("rae", "sales_rep"), ("sam", "sales_rep"), ("wes", "sales_rep"),
                           ("lou", "sales_rep"), ("mia", "sales_manager")]:
            s.crmctl("access", "users", "--add", name)
            s.crmctl("access", "grant", name, role)
            s.web_user(name)
        s.web_user("ghost")  # a web user with no CRM user of its name
        s.call("DefineCustomField", {"definition": {"entity": "ENTITY_PERSON", "key": "budget", "label": "Budget",
                                                    "type": "FIELD_TYPE_NUMBER"}})
        # Created by each rep, so each owns theirs (docs/ACCESS.md: a limited scope owns what it creates).
        ada = s.call("CreatePerson", {"person": {
            "firstName": "Ada", "lastName": "Lovelace", "jobTitle": "Analyst",
            "emails": [{"address": "ada@engines.example", "label": "work"}], "phones": [{"number": "+44 20 7946 0001"}],
            "tags": ["vip", "engines"], "customFields": {"budget": {"number": "1200.50"}}}}, user="rae")
        grace = s.call("CreatePerson", {"person": {"firstName": "Grace", "lastName": "Hopper",
                                                   "emails": [{"address": "grace@navy.example"}]}}, user="sam")
        s.people = {"ada": int(ada["id"]), "grace": int(grace["id"])}
        # Timeline entries for paging: each update is an event contacts writes to her timeline.
        for i in range(6):
            s.call("UpdatePerson", {"person": {"id": ada["id"], "notes": f"call {i}"}}, user="rae")
        s.base = s.start_web()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000"]:
        options.add_argument(arg)
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, stack, request):
    """The browser with no cookies at the start; a screenshot at the end."""
    browser.get(stack.base + "/static/app.css")
    browser.delete_all_cookies()
    yield browser
    os.makedirs(OUT, exist_ok=True)
    browser.save_screenshot(os.path.join(OUT, request.node.name + ".png"))
