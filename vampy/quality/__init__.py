"""Output quality: PSNR/SSIM and `vampy eval`.
"""
