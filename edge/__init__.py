"""RestAI Edge: the device that keeps table ordering working when the internet does not."""
