"""Demonstrations as data: the dataset file, rosbag2 recordings read and written, and teaching-run plans."""
