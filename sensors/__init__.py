"""Sources: devices, recorded files and the simulator, all giving the same chunks on the session clock."""
