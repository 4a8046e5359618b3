"""Fixtures for the desktop tests: a temp QSettings, a scripted engine connection, a main window.

Most tests drive the window with scripted protocol events (Krita AI Diffusion style); the ones
marked ``engine`` start the real engine process.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from desktop.model.app import AppModel
from desktop.scripted import ScriptedClient


@pytest.fixture(autouse=True)
def _temp_qsettings(tmp_path_factory):
    """No test reads or writes the person's real settings."""
    path = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    yield


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "noisebloom.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def client(qapp) -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def app_model(client) -> AppModel:
    return AppModel(client)


def delete_now(*widgets) -> None:
    """Close and delete windows at once: one left alive is re-styled by every later theme switch."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for w in widgets:
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def window(qtbot, qapp, app_model, settings, client):
    from desktop.main_window import MainWindow

    win = MainWindow(app_model, settings, start_engine=False)
    win.show()
    client.start(device="cpu (2 cores)")
    yield win
    win.close()
    delete_now(win)
