"""What is sent to an arm: joint trajectories, their safety checks and limits, splicing an update into a
running behaviour, the fingertip path, and joint limits read from a robot description.
"""
